"""What the store says of each feed over the last day: the records it sent, quarantined and
repeated (the worker's hourly counts), the records held of each periodic feed, and each feed's
newest event. Read once, in one place, by the two that judge it: the quality report
(``quality/service.py``) and the units' scorecards (``units/scoring.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.api.feeds.repository import newest_events
from services.common.feeds import FeedDefinition

# Hours, not days: 24 of the worker's hourly counts whatever the time of day (a province day,
# UTC+7, is exactly 24 of them).
WINDOW = timedelta(hours=24)

RECEIVED = """
SELECT feed, sum(records)::bigint AS records, sum(quarantined)::bigint AS quarantined,
       sum(repeated)::bigint AS repeated
FROM feed_hourly_counts
WHERE hour >= date_trunc('hour', $1::timestamptz)
GROUP BY feed
"""

# Distinct (entity, event time) held per periodic feed in the window, and its known entities.
HELD = """
SELECT f.feed,
       (SELECT count(*) FROM (SELECT DISTINCT entity, ts FROM observations o
                              WHERE o.feed = f.feed AND o.ts > $2 AND o.ts <= $3) AS d) AS held,
       (SELECT count(*) FROM entities e WHERE e.feed = f.feed) AS entities
FROM unnest($1::text[]) AS f (feed)
"""


@dataclass(frozen=True, slots=True)
class Received:
    """A feed's records in the window: all it sent, those quarantined, those repeated."""

    records: int
    quarantined: int
    repeated: int


@dataclass(frozen=True, slots=True)
class FeedWindow:
    received: Mapping[str, Received]  # per feed
    held: Mapping[str, tuple[int, int]]  # periodic feed -> (records, entities) in the window
    newest: Mapping[str, datetime]  # per feed, its newest event time


async def read_window(
    connection: Any, feeds: Mapping[str, FeedDefinition], now: datetime
) -> FeedWindow:
    periodic = [name for name, feed in feeds.items() if feed.periodic]
    return FeedWindow(
        received=await received_since(connection, now - WINDOW),
        held=await held_in_window(connection, periodic, now - WINDOW, now),
        newest=await newest_events(connection),
    )


async def received_since(connection: Any, since: datetime) -> dict[str, Received]:
    rows = await connection.fetch(RECEIVED, since)
    return {r["feed"]: Received(r["records"], r["quarantined"], r["repeated"]) for r in rows}


async def held_in_window(
    connection: Any, feeds: list[str], start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per feed: (distinct records held with event time in the window, known entities)."""
    rows = await connection.fetch(HELD, feeds, start, end)
    return {r["feed"]: (r["held"], r["entities"]) for r in rows}
