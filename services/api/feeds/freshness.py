"""Each feed's freshness (sống) as Prometheus gauges, refreshed on a short cadence.

Refreshed in the background, never per scrape. While the store is away the last known event
times are kept, so ages keep growing honestly instead of freezing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.api.feeds.repository import newest_events
from services.api.feeds.status import FEED_STATUSES, feed_status, stale_after
from services.api.metrics import FEED_AGE, FEED_DEADLINE, FEED_LAST_EVENT, FEED_STATUS
from services.common.db import DATABASE_ERRORS
from services.common.feeds import FeedDefinition

log = logging.getLogger("ioc.api")


def publish_freshness(
    feeds: dict[str, FeedDefinition], newest: dict[str, datetime], now: datetime
) -> None:
    for name, feed in feeds.items():
        labels = {"feed": name, "agency": feed.agency}
        cadence = timedelta(seconds=feed.cadence_seconds)
        FEED_DEADLINE.labels(**labels).set(stale_after(cadence).total_seconds())
        last_event = newest.get(name)
        if last_event is not None:
            FEED_LAST_EVENT.labels(**labels).set(last_event.timestamp())
            FEED_AGE.labels(**labels).set((now - last_event).total_seconds())
        current = feed_status(last_event, feed, now)
        for status in FEED_STATUSES:
            FEED_STATUS.labels(**labels, status=status).set(1 if status == current else 0)


async def keep_freshness_published(
    pool: Any,
    feeds: dict[str, FeedDefinition],
    clock: Callable[[], datetime],
    interval_s: float,
) -> None:
    newest: dict[str, datetime] = {}
    while True:
        try:
            async with pool.acquire(timeout=interval_s) as connection:
                newest = await newest_events(connection)
        except DATABASE_ERRORS as error:
            log.warning("feed freshness not refreshed: database unavailable (%r)", error)
        publish_freshness(feeds, newest, clock())
        await asyncio.sleep(interval_s)
