"""``/v1/units``: each unit's scorecard (today, over 7 and 30 days, its history) and the
ranking of units; every key reads them, as it reads the wall. The scorecards are the stored
days the scoring keeps (``scoring.py``), whether or not the reminders run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter

from services.api.access import contacts_shown, require_indicators
from services.api.dependencies import Caller, Connection, State
from services.api.errors import NotFound
from services.api.reminders.service import unresolved_by_unit
from services.api.schemas import error_responses
from services.api.units import repository
from services.api.units.schemas import (
    DayScorecard,
    RankedUnit,
    Ranking,
    UnitContacts,
    UnitDetail,
    UnitList,
    UnitOut,
    WindowScores,
)
from services.api.units.scorecards import leaders_and_laggards, over_days, ranking
from services.api.units.scoring import HISTORY_DAYS
from services.common.keys import Principal
from services.common.province import province_day
from services.common.units import Unit, UnitKind

router = APIRouter(tags=["units"], responses=error_responses(401, 403))
RANKING_DAYS = 7


@router.get("/v1/units", response_model=UnitList)
async def list_units(caller: Caller, connection: Connection, state: State) -> UnitList:
    """Every unit with its scorecard: departments, communes/wards."""
    require_indicators(caller)
    now = state.clock()
    today = province_day(now)
    history = await repository.score_history(connection, today - timedelta(days=HISTORY_DAYS))
    opened = await unresolved_by_unit(connection)
    units = state.units.by_code
    return UnitList(
        as_of=now,
        units=[
            _unit(unit, history.get(code, {}), today, opened.get(code, 0), caller)
            for code, unit in sorted(units.items())
        ],
    )


@router.get("/v1/units/ranking", response_model=Ranking, responses=error_responses(422))
async def unit_ranking(
    caller: Caller, connection: Connection, state: State, kind: UnitKind | None = None
) -> Ranking:
    """Units by their score over the last 7 days within their kind (departments among
    departments, communes/wards among communes/wards; ``kind`` for one of them), with the places
    each gained or lost since the week before: the leaders to recognise, the laggards to follow
    up, of each kind."""
    require_indicators(caller)
    now = state.clock()
    today = province_day(now)
    history = await repository.score_history(connection, today - timedelta(days=HISTORY_DAYS))
    units = state.units.by_code
    kinds = {code: unit.kind for code, unit in units.items()}
    ranked = [
        RankedUnit(
            rank=r.rank,
            unit=r.unit,
            kind=r.kind,
            name=units[r.unit].name,
            name_en=units[r.unit].name_en,
            score=r.score,
            movement=r.movement,
        )
        for r in ranking(history, kinds, today, RANKING_DAYS)
        if kind is None or r.kind == kind
    ]
    leaders, laggards = leaders_and_laggards(ranked)
    return Ranking(
        as_of=now, window_days=RANKING_DAYS, units=ranked, leaders=leaders, laggards=laggards
    )


@router.get("/v1/units/{unit}", response_model=UnitDetail, responses=error_responses(404))
async def get_unit(unit: str, caller: Caller, connection: Connection, state: State) -> UnitDetail:
    require_indicators(caller)
    found = state.units.by_code.get(unit)
    if found is None:
        raise NotFound(f"no unit {unit!r}")
    today = province_day(state.clock())
    history = await repository.score_history(connection, today - timedelta(days=HISTORY_DAYS), unit)
    days = history.get(unit, {})
    opened = await unresolved_by_unit(connection)
    return UnitDetail(
        **_unit(found, days, today, opened.get(unit, 0), caller).model_dump(),
        history=[
            DayScorecard(day=day, **scores)
            for day, scores in sorted(days.items())
            if (today - day).days < 30
        ],
    )


def _unit(
    unit: Unit,
    days: Mapping[date, Mapping[str, Any]],
    today: date,
    open_reminders: int,
    caller: Principal,
) -> UnitOut:
    stored = days.get(today)
    return UnitOut(
        code=unit.code,
        kind=unit.kind,
        name=unit.name,
        name_en=unit.name_en,
        contacts=UnitContacts(email=list(unit.emails), webhook=unit.webhook)
        if contacts_shown(caller, unit.code)
        else None,
        today=DayScorecard(day=today, **stored) if stored else None,
        over_7_days=WindowScores(**over_days(days, today, 7)),
        over_30_days=WindowScores(**over_days(days, today, 30)),
        open_reminders=open_reminders,
    )
