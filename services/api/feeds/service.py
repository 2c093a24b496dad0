"""The feeds' liveness as one listing: what ``GET /v1/feeds`` answers and ``ioc feeds`` prints."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.api.feeds.repository import newest_events
from services.api.feeds.schemas import FeedList, FeedOut
from services.api.feeds.status import feed_status
from services.common.feeds import FeedDefinition


async def feed_listing(
    connection: Any, feeds: Mapping[str, FeedDefinition], now: datetime
) -> FeedList:
    """Every feed by name: its agency, its newest event and its status at ``now``."""
    newest = await newest_events(connection)
    return FeedList(
        feeds=[
            FeedOut(
                feed=name,
                agency=feed.agency,
                title=feed.title,
                last_event=newest.get(name),
                expected_interval_s=feed.cadence_seconds,
                status=feed_status(newest.get(name), feed, now),
            )
            for name, feed in sorted(feeds.items())
        ]
    )
