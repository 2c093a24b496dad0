"""All SQL of the observations feature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ObservationQuery:
    feed: str
    entity: str | None
    metric: str | None
    start: datetime | None
    end: datetime | None
    limit: int


# Numeric and text series share one shape; ``$n IS NULL`` leaves a filter out.
SELECT_OBSERVATIONS = """
SELECT entity, metric, ts, value::text AS text, value AS number FROM (
    SELECT entity, metric, ts, value FROM observations
    WHERE feed = $1 AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR metric = $3)
      AND ($4::timestamptz IS NULL OR ts >= $4) AND ($5::timestamptz IS NULL OR ts < $5)
) numeric
UNION ALL
SELECT entity, metric, ts, value, NULL FROM states
WHERE feed = $1 AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR metric = $3)
  AND ($4::timestamptz IS NULL OR ts >= $4) AND ($5::timestamptz IS NULL OR ts < $5)
ORDER BY ts, entity, metric
LIMIT $6
"""


async def fetch_observations(connection: Any, query: ObservationQuery) -> list[Any]:
    if any("\x00" in text for text in (query.entity or "", query.metric or "")):
        return []  # PostgreSQL text cannot hold NUL (nor refuse it politely): nothing matches
    rows: list[Any] = await connection.fetch(
        SELECT_OBSERVATIONS,
        query.feed,
        query.entity,
        query.metric,
        query.start,
        query.end,
        query.limit,
    )
    return rows
