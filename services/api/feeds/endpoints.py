from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.api.caching import conditional
from services.api.dependencies import Caller, Connection, State
from services.api.feeds.schemas import FeedList
from services.api.feeds.service import feed_listing
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
    return conditional(request, await feed_listing(connection, state.feeds, state.clock()))
