from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.api.access import require_observations
from services.api.dependencies import Feed, OptionalCaller, State, read_connection
from services.api.errors import ApiError
from services.api.instants import Instant
from services.api.observations.paging import CursorError, Order, Position, decode, encode
from services.api.observations.repository import ObservationQuery, fetch_observations
from services.api.observations.schemas import ObservationOut, ObservationPage
from services.api.schemas import error_responses

router = APIRouter(tags=["observations"], responses=error_responses(400, 401, 403, 404, 422))


@router.get(
    "/v1/feeds/{feed}/observations",
    response_model=ObservationPage,
    # A key is optional for a public feed (open data): the empty requirement says so beside the
    # bearer one; a feed that is not public answers 401 without one.
    openapi_extra={"security": [{}]},
)
async def list_observations(
    request: Request,
    feed: Feed,
    caller: OptionalCaller,
    state: State,
    entity: str | None = None,
    metric: str | None = None,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    order: Annotated[
        Order, Query(description="desc: newest first (the default); asc: oldest first")
    ] = "desc",
    limit: Annotated[
        int | None,
        Query(ge=1, description="Rows a page holds; at most the service's page size (the default)"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(description="Where a page starts: the `next_cursor` of the page before (400 if not)"),
    ] = None,
) -> ObservationPage:
    """Canonical observations of one feed in event time [from, to), newest first unless
    ``order=asc``; a page holds ``limit`` rows (capped), and ``next`` (``next_cursor``) gives
    the page after it. A public feed's are read without a key (``access.readable_feeds``)."""
    require_observations(caller, feed, state.feeds)
    try:
        after = decode(cursor, order) if cursor is not None else None
    except CursorError as error:
        raise ApiError(str(error)) from None
    size = min(limit or state.settings.max_page, state.settings.max_page)
    # Without a key (a public feed), from the public reads' bounded share of the pool.
    async with read_connection(state, caller) as connection:
        rows = await fetch_observations(
            connection,
            ObservationQuery(feed.feed, entity, metric, start, end, size + 1, order, after),
        )
    page, truncated = rows[:size], len(rows) > size
    next_cursor = None
    if truncated:
        last = page[-1]
        next_cursor = encode(order, Position(last["ts"], last["entity"], last["metric"]))
    units = {metric.name: metric.unit for metric in feed.metrics}
    return ObservationPage(
        feed=feed.feed,
        order=order,
        observations=[
            ObservationOut(
                entity=row["entity"],
                metric=row["metric"],
                ts=row["ts"],
                value=row["number"] if row["number"] is not None else row["text"],
                unit=units.get(row["metric"], ""),
            )
            for row in page
        ],
        truncated=truncated,
        next_cursor=next_cursor,
        next=str(request.url.include_query_params(cursor=next_cursor)) if next_cursor else None,
    )
