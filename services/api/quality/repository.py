"""All SQL of the quality feature."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.api.quality.scores import Received

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


async def received_since(connection: Any, since: datetime) -> dict[str, Received]:
    rows = await connection.fetch(RECEIVED, since)
    return {r["feed"]: Received(r["records"], r["quarantined"], r["repeated"]) for r in rows}


async def held_in_window(
    connection: Any, feeds: list[str], start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per feed: (distinct records held with event time in the window, known entities)."""
    rows = await connection.fetch(HELD, feeds, start, end)
    return {r["feed"]: (r["held"], r["entities"]) for r in rows}
