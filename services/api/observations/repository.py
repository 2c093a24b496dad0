"""All SQL of the observations feature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.api.observations.paging import ORDERS, Order, Position


@dataclass(frozen=True, slots=True)
class ObservationQuery:
    feed: str
    entity: str | None
    metric: str | None
    start: datetime | None
    end: datetime | None
    limit: int
    order: Order = "asc"
    after: Position | None = None  # the last row of the page before, in this order


# Numeric and text series share one shape; ``$n IS NULL`` leaves a filter out. Newest first
# (desc) orders by event time only backwards: rows of one moment stay in entity and metric
# order. Each branch is ordered and limited itself, so neither reads past the page.
_FILTERS = """
    WHERE feed = $1 AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR metric = $3)
      AND ($4::timestamptz IS NULL OR ts >= $4) AND ($5::timestamptz IS NULL OR ts < $5)
      AND ($6::timestamptz IS NULL OR {past})
"""
_PAST = {
    "asc": "(ts, entity, metric) > ($6, $7::text, $8::text)",
    "desc": "ts < $6 OR (ts = $6 AND (entity, metric) > ($7::text, $8::text))",
}
_ORDER = {"asc": "ts, entity, metric", "desc": "ts DESC, entity, metric"}


def _statement(order: Order) -> str:
    """The statement for one order: what is put in is this module's own text, by the order."""
    filters, by = _FILTERS.format(past=_PAST[order]), _ORDER[order]
    return f"""
SELECT entity, metric, ts, text, number FROM (
    (SELECT entity, metric, ts, value::text AS text, value AS number FROM observations
    {filters}
    ORDER BY {by} LIMIT $9)
    UNION ALL
    (SELECT entity, metric, ts, value, NULL FROM states
    {filters}
    ORDER BY {by} LIMIT $9)
) page
ORDER BY {by}
LIMIT $9
"""  # noqa: S608


SELECT_OBSERVATIONS = {order: _statement(order) for order in ORDERS}


async def fetch_observations(connection: Any, query: ObservationQuery) -> list[Any]:
    if any("\x00" in text for text in (query.entity or "", query.metric or "")):
        return []  # PostgreSQL text cannot hold NUL (nor refuse it politely): nothing matches
    after = query.after
    rows: list[Any] = await connection.fetch(
        SELECT_OBSERVATIONS[query.order],
        query.feed,
        query.entity,
        query.metric,
        query.start,
        query.end,
        after.ts if after else None,
        after.entity if after else None,
        after.metric if after else None,
        query.limit,
    )
    return rows
