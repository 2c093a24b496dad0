from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from services.api.access import require_indicators
from services.api.caching import Rendered, send
from services.api.dependencies import Caller, Connection, State
from services.api.errors import ApiError, NotFound, Unavailable
from services.api.indicators.schemas import IndicatorList, IndicatorOut, SeriesOut
from services.api.indicators.series import parse_interval, render, series
from services.api.instants import Instant
from services.api.schemas import error_responses
from services.common.db import DATABASE_ERRORS

router = APIRouter(tags=["indicators"], responses=error_responses(400, 401, 404, 422, 503))
NOT_MODIFIED: dict[int | str, dict[str, str]] = {304: {"description": "Unchanged since the ETag"}}
Language = Annotated[Literal["vi", "en"], Query(description="Title language")]
LIST_PATH = "/v1/indicators"  # these two are answered by the kept answers' path too
ONE_PATH = "/v1/indicators/{indicator_id}"


@router.get(LIST_PATH, response_model=IndicatorList, responses=NOT_MODIFIED)
async def list_indicators(
    request: Request, caller: Caller, state: State, lang: Language = "vi"
) -> Response:
    """Every indicator of the wall, with its status and the age of its data. Send the ETag
    back in If-None-Match: an unchanged answer is a 304. Answers come from kept state,
    refreshed as data arrives and every few seconds."""
    require_indicators(caller)
    return send(request, await _kept(state, lambda: state.board.all(lang)))


@router.get(ONE_PATH, response_model=IndicatorOut, responses=NOT_MODIFIED)
async def get_indicator(
    request: Request,
    indicator_id: str,
    caller: Caller,
    state: State,
    lang: Language = "vi",
) -> Response:
    require_indicators(caller)
    if indicator_id not in state.indicators:
        raise NotFound(f"unknown indicator {indicator_id!r}")
    return send(request, await _kept(state, lambda: state.board.one(indicator_id, lang)))


async def _kept(state: State, answer: Callable[[], Rendered | None]) -> Rendered:
    """The kept answer; before the board's first refresh (just started), one refresh now."""
    kept = answer()
    if kept is None:
        try:
            await state.board.refresh()
        except DATABASE_ERRORS:
            raise Unavailable("indicators not evaluated yet: database unavailable") from None
        kept = answer()
    assert kept is not None, "a refresh renders every indicator"
    return kept


@router.get("/v1/indicators/{indicator_id}/series", response_model=SeriesOut)
async def get_series(
    indicator_id: str,
    caller: Caller,
    connection: Connection,
    state: State,
    start: Annotated[Instant | None, Query(alias="from", description="Default: to - 24 h")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="Default: now")] = None,
    interval: Annotated[str, Query(description="Bucket width: 5m, 1h, 1d, ...")] = "1h",
) -> Response:
    """The indicator's value per time bucket, oldest first (for sparklines and Grafana)."""
    require_indicators(caller)
    definition = state.indicators.get(indicator_id)
    if definition is None:
        raise NotFound(f"unknown indicator {indicator_id!r}")
    width = parse_interval(interval)
    end = end or state.clock()
    if start is None:
        try:
            start = end - timedelta(hours=24)
        except OverflowError:  # `to` in the first day of year 1: schemathesis met a 500 here
            raise ApiError("to is too early for the default 24 h window: give from") from None
    points = await series(connection, definition, start, end, width)
    # SeriesOut, rendered as it is documented (response_model) but not built and checked again.
    body = render(definition, width, points)
    return Response(body, media_type="application/json")
