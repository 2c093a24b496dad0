"""The indicators feature's SQL beside its kinds' own (``kinds/``): how new an indicator's data
is, and an indicator's metric in time buckets, read from the rollups across entities whose width
divides the interval (a row a bucket; exact in plain mode, continuous aggregates in TimescaleDB
mode) or else from the observations themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.api.indicators.definitions import IndicatorDefinition
from services.common.tables import BUCKET_ORIGIN_SQL


@dataclass(frozen=True, slots=True)
class Evaluation:
    value: float | None
    as_of: datetime | None
    updated_at: datetime | None
    breakdown: dict[str, float] | None = field(default=None)


NEWEST = """
SELECT max(ts) AS as_of, max(updated_at) AS updated_at FROM latest
WHERE feed = $1 AND metric = ANY($2::text[])
"""

# (table, time column, aggregates of one bucket's count, sum, min, max)
_RAW = ("observations", "ts", "count(*)", "sum(value)", "min(value)", "max(value)")
_FIVE = ("observations_5m_all", "bucket", "sum(n)", "sum(total)", "min(minimum)", "max(maximum)")
_HOUR = ("observations_1h_all", "bucket", "sum(n)", "sum(total)", "min(minimum)", "max(maximum)")

BUCKETS = """
SELECT date_bin($1::interval, {time}, {origin}) AS at,
       {count} FILTER (WHERE metric = $3) AS n,
       {total} FILTER (WHERE metric = $3) AS total,
       {minimum} FILTER (WHERE metric = $3) AS minimum,
       {maximum} FILTER (WHERE metric = $3) AS maximum,
       {total} FILTER (WHERE metric = $4) AS other
FROM {table}
WHERE feed = $2 AND metric IN ($3, $4) AND {time} >= $5 AND {time} < $6
GROUP BY 1
ORDER BY 1
"""


async def evaluate(connection: Any, d: IndicatorDefinition, now: datetime) -> Evaluation:
    parts = await d.kind.parts(connection, d, now)
    newest = await connection.fetchrow(NEWEST, d.feed, _metrics(d))
    if not parts:
        return Evaluation(None, newest["as_of"], newest["updated_at"])
    whole = d.kind.combine(parts)
    breakdown = None
    if d.breakdown is not None:
        breakdown = {
            p.part: value
            for p in parts
            if p.part is not None and (value := d.kind.value(p)) is not None
        }
    return Evaluation(d.kind.value(whole), whole.as_of, newest["updated_at"], breakdown)


async def buckets(
    connection: Any, d: IndicatorDefinition, start: datetime, end: datetime, interval: timedelta
) -> list[Any]:
    """Per bucket ``at``: the metric's (or numerator's) ``n``, ``total``, ``minimum`` and
    ``maximum``, and the denominator's sum as ``other``."""
    seconds = int(interval.total_seconds())
    table, time, count, total, minimum, maximum = (
        _HOUR if seconds % 3600 == 0 else _FIVE if seconds % 300 == 0 else _RAW
    )
    first, second = (d.numerator, d.denominator) if d.numerator else (d.metric, d.metric)
    sql = BUCKETS.format(
        table=table,
        time=time,
        origin=BUCKET_ORIGIN_SQL,
        count=count,
        total=total,
        minimum=minimum,
        maximum=maximum,
    )
    return await connection.fetch(sql, interval, d.feed, first, second, start, end)  # type: ignore[no-any-return]


def _metrics(d: IndicatorDefinition) -> list[str]:
    return [m for m in (d.metric, d.numerator, d.denominator) if m is not None]
