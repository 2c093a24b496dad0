from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.api.caching import conditional
from services.api.dependencies import Caller, Connection, State
from services.api.feeds.repository import newest_events
from services.api.feeds.schemas import FeedList, FeedOut
from services.api.feeds.status import feed_status
from services.api.schemas import error_responses

router = APIRouter(tags=["feeds"], responses=error_responses(401))


@router.get(
    "/v1/feeds",
    response_model=FeedList,
    responses={304: {"description": "Unchanged since the ETag"}},
)
async def list_feeds(
    request: Request, caller: Caller, connection: Connection, state: State
) -> Response:
    """Every department feed with the age of its data: which departments lag."""
    now = state.clock()
    newest = await newest_events(connection)
    listing = FeedList(
        feeds=[
            FeedOut(
                feed=name,
                agency=feed.agency,
                title=feed.title,
                last_event=newest.get(name),
                expected_interval_s=feed.cadence_seconds,
                status=feed_status(newest.get(name), feed, now),
            )
            for name, feed in sorted(state.feeds.items())
        ]
    )
    return conditional(request, listing)
