from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.access import require_read
from services.api.dependencies import Caller, Connection, Feed, State
from services.api.instants import Instant
from services.api.observations.repository import ObservationQuery, fetch_observations
from services.api.observations.schemas import ObservationOut, ObservationPage
from services.api.schemas import error_responses

router = APIRouter(tags=["observations"], responses=error_responses(400, 401, 403, 404, 422))


@router.get("/v1/feeds/{feed}/observations", response_model=ObservationPage)
async def list_observations(
    feed: Feed,
    caller: Caller,
    connection: Connection,
    state: State,
    entity: str | None = None,
    metric: str | None = None,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
) -> ObservationPage:
    """Canonical observations of one feed, oldest first, in event time [from, to)."""
    require_read(caller, feed)
    limit = state.settings.max_page
    rows = await fetch_observations(
        connection, ObservationQuery(feed.feed, entity, metric, start, end, limit + 1)
    )
    units = {metric.name: metric.unit for metric in feed.metrics}
    return ObservationPage(
        feed=feed.feed,
        observations=[
            ObservationOut(
                entity=row["entity"],
                metric=row["metric"],
                ts=row["ts"],
                value=row["number"] if row["number"] is not None else row["text"],
                unit=units.get(row["metric"], ""),
            )
            for row in rows[:limit]
        ],
        truncated=len(rows) > limit,
    )
