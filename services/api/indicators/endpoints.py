from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from services.api.caching import conditional
from services.api.dependencies import Caller, Connection, State
from services.api.errors import NotFound
from services.api.indicators.repository import evaluate
from services.api.indicators.schemas import BreakdownItem, IndicatorList, IndicatorOut
from services.api.indicators.status import status_of
from services.api.schemas import error_responses
from services.common.indicators import IndicatorDefinition

router = APIRouter(tags=["indicators"], responses=error_responses(401, 404, 422))
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
