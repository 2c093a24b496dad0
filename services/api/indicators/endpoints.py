from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from services.api.caching import conditional
from services.api.dependencies import Caller, Connection, State
from services.api.errors import ApiError, NotFound
from services.api.indicators.repository import evaluate
from services.api.indicators.schemas import (
    BreakdownItem,
    IndicatorList,
    IndicatorOut,
    SeriesOut,
    SeriesPoint,
)
from services.api.indicators.series import parse_interval, series
from services.api.indicators.status import status_of
from services.api.schemas import error_responses
from services.common.indicators import IndicatorDefinition

router = APIRouter(tags=["indicators"], responses=error_responses(400, 401, 404, 422))
NOT_MODIFIED: dict[int | str, dict[str, str]] = {304: {"description": "Unchanged since the ETag"}}
Language = Annotated[Literal["vi", "en"], Query(description="Title language")]


@router.get("/v1/indicators", response_model=IndicatorList, responses=NOT_MODIFIED)
async def list_indicators(
    request: Request, caller: Caller, connection: Connection, state: State, lang: Language = "vi"
) -> Response:
    """Every indicator of the wall, with its status and the age of its data. Send the ETag
    back in If-None-Match: an unchanged answer is a 304."""
    indicators = [
        await _indicator(connection, state, definition, lang)
        for definition in state.indicators.values()
    ]
    return conditional(request, IndicatorList(indicators=indicators))


@router.get("/v1/indicators/{indicator_id}", response_model=IndicatorOut, responses=NOT_MODIFIED)
async def get_indicator(
    request: Request,
    indicator_id: str,
    caller: Caller,
    connection: Connection,
    state: State,
    lang: Language = "vi",
) -> Response:
    definition = state.indicators.get(indicator_id)
    if definition is None:
        raise NotFound(f"unknown indicator {indicator_id!r}")
    return conditional(request, await _indicator(connection, state, definition, lang))


async def _indicator(
    connection: object, state: State, definition: IndicatorDefinition, lang: str
) -> IndicatorOut:
    now = state.clock()
    evaluation = await evaluate(connection, definition, now)
    cadence = timedelta(seconds=state.feeds[definition.feed].cadence_seconds)
    status = status_of(
        evaluation.value,
        evaluation.as_of,
        cadence=cadence,
        thresholds=definition.thresholds,
        now=now,
    )
    breakdown = None
    if evaluation.breakdown is not None:
        breakdown = [
            BreakdownItem(code=code, value=value)
            for code, value in sorted(evaluation.breakdown.items())
        ]
    return IndicatorOut(
        id=definition.id,
        title=definition.title.get(lang) or definition.title["vi"],
        value=evaluation.value,
        unit=definition.unit,
        status=status,
        as_of=evaluation.as_of,
        updated_at=evaluation.updated_at,
        breakdown=breakdown,
    )


@router.get("/v1/indicators/{indicator_id}/series", response_model=SeriesOut)
async def get_series(
    indicator_id: str,
    caller: Caller,
    connection: Connection,
    state: State,
    start: Annotated[datetime | None, Query(alias="from", description="Default: to - 24 h")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Default: now")] = None,
    interval: Annotated[str, Query(description="Bucket width: 5m, 1h, 1d, ...")] = "1h",
) -> SeriesOut:
    """The indicator's value per time bucket, oldest first (for sparklines and Grafana)."""
    definition = state.indicators.get(indicator_id)
    if definition is None:
        raise NotFound(f"unknown indicator {indicator_id!r}")
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(f"{name} needs a UTC offset, e.g. 2026-11-25T06:00:00+07:00")
    width = parse_interval(interval)
    end = end or state.clock()
    start = start or end - timedelta(hours=24)
    points = await series(connection, definition, start, end, width)
    return SeriesOut(
        id=definition.id,
        unit=definition.unit,
        interval_s=int(width.total_seconds()),
        points=[SeriesPoint(ts=p.ts, value=p.value) for p in points],
    )
