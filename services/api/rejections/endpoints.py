from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.api.access import require_read
from services.api.dependencies import Caller, Connection, Feed
from services.api.rejections.repository import fetch_rejections
from services.api.rejections.schemas import RejectionOut, RejectionPage
from services.api.schemas import error_responses

router = APIRouter(tags=["rejections"], responses=error_responses(401, 403, 404, 422))


LARGEST_ID = 2**63 - 1  # the ids are PostgreSQL bigints: a larger one is refused, not sent


@router.get("/v1/feeds/{feed}/rejections", response_model=RejectionPage)
async def list_rejections(
    feed: Feed,
    caller: Caller,
    connection: Connection,
    before: Annotated[
        int | None, Query(ge=1, le=LARGEST_ID, description="Only rejections older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RejectionPage:
    """The feed's quarantined records, newest first, with the reason and the original bytes."""
    require_read(caller, feed)
    rows = await fetch_rejections(connection, feed.feed, before, limit + 1)
    page = rows[:limit]
    return RejectionPage(
        feed=feed.feed,
        rejections=[_rejection(row) for row in page],
        next_before=page[-1]["id"] if len(rows) > limit else None,
    )


def _rejection(row: Any) -> RejectionOut:
    raw: bytes = row["raw"]
    encoding: Literal["utf-8", "base64"] = "utf-8"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    return RejectionOut(
        id=row["id"],
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        reason=row["reason"],
        raw=text,
        raw_encoding=encoding,
        rejected_at=row["rejected_at"],
    )
