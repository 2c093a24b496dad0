"""The indicators feature's SQL beside its kinds' own (``kinds/``): how new an indicator's data
is, and an indicator's metric in time buckets, read from the rollups across entities whose width
divides the interval (a row a bucket, materialized up to a watermark in both modes; the rest
summed from the rows) or else from the observations themselves."""

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

# A bucket's aggregates over the observations themselves (any interval).
RAW_BUCKETS = """
SELECT date_bin($1::interval, ts, {origin}) AS at,
       count(*) FILTER (WHERE metric = $3) AS n,
       sum(value) FILTER (WHERE metric = $3) AS total,
       min(value) FILTER (WHERE metric = $3) AS minimum,
       max(value) FILTER (WHERE metric = $3) AS maximum,
       sum(value) FILTER (WHERE metric = $4) AS other
FROM observations
WHERE feed = $2 AND metric IN ($3, $4) AND ts >= $5 AND ts < $6
GROUP BY 1
"""

# A rollup across entities holds its buckets up to its watermark (``ioc_rollup_watermark``,
# migration 0017: in both modes, a refresh's), read first and passed as $6: a value known as
# the statement starts, TimescaleDB leaves the chunks before it out once, not in each of the
# tail's lookups (measured: 3 ms of a month at 5 minutes). It is never past the current
# bucket's start: TimescaleDB's refresh takes the bucket of the newest row, open or not, and a
# row that joins it after would be missed until the next one. Nor is it before the range's
# start, below which it changes nothing (a rollup never refreshed has -infinity, which Python's
# datetime cannot hold). A watermark read before the statement's snapshot is at most older than
# the rollup's: more is read from the rows, exactly.
WATERMARK = """
SELECT greatest(least(ioc_rollup_watermark($1), date_bin($2::interval, now(), {origin})), $3)
"""
# What the rollup does not hold is summed from the rows themselves: the open tail (the buckets
# at and after the watermark) and, below it, the buckets a late row or a correction changed
# since that refresh (``rollup_invalidations``: plain mode writes them in the batch's
# transaction, so a series is exact at commit; TimescaleDB's stay empty). Rows are found series
# by series (each in ``latest``; one whose newest row is older than the tail has none there)
# through the primary key: the rows of the newest chunk are not scanned (``o.ts >= $4`` leaves
# the chunks before the range out as the scan starts). Columns: metric, rollup bucket ``b``, its
# count, sum, minimum, maximum. $1 feed, $2 and $3 the metrics, $4 and $5 from and to.
STALE = """
SELECT DISTINCT metric, date_bin(INTERVAL '{width} seconds', bucket, {origin}) AS b
FROM rollup_invalidations
WHERE feed = $1 AND metric IN ($2, $3)
  AND bucket >= $4::timestamptz - INTERVAL '{width} seconds'
  AND bucket < least($5::timestamptz + INTERVAL '{width} seconds', $6::timestamptz)
"""
ROLLUP_AND_TAIL = """
SELECT metric, bucket AS b, n, total, minimum, maximum FROM {table} r
WHERE feed = $1 AND metric IN ($2, $3) AND bucket >= $4 AND bucket < $5 AND bucket < $6
  AND NOT EXISTS (SELECT FROM stale s WHERE s.metric = r.metric AND s.b = r.bucket)
UNION ALL
SELECT metric, b, count(*)::integer, sum(value), min(value), max(value)
FROM (
    SELECT l.metric, date_bin(INTERVAL '{width} seconds', o.ts, {origin}) AS b,
           o.value
    FROM latest l
    CROSS JOIN LATERAL (
        SELECT ts, value FROM observations o
        WHERE o.feed = l.feed AND o.entity = l.entity AND o.metric = l.metric
          AND o.ts >= greatest($6, $4) AND o.ts >= $4 AND o.ts < $5 + INTERVAL '{width} seconds'
    ) o
    WHERE l.feed = $1 AND l.metric IN ($2, $3) AND l.ts >= $6
      AND $6 < $5 + INTERVAL '{width} seconds'
    UNION ALL
    SELECT s.metric, s.b, o.value
    FROM stale s
    JOIN latest l ON l.feed = $1 AND l.metric = s.metric
    CROSS JOIN LATERAL (
        SELECT value FROM observations o
        WHERE o.feed = l.feed AND o.entity = l.entity AND o.metric = l.metric
          AND o.ts >= s.b AND o.ts < s.b + INTERVAL '{width} seconds'
          AND o.ts >= $4 AND o.ts < $6 + INTERVAL '{width} seconds'  -- the chunks, known as planned
    ) o
) AS from_rows
WHERE b >= $4 AND b < $5
GROUP BY 1, 2
"""

# Wider buckets from the rollup's: $7 the interval.
BUCKETS = """
SELECT date_bin($7::interval, b, {origin}) AS at,
       sum(n) FILTER (WHERE metric = $2) AS n,
       sum(total) FILTER (WHERE metric = $2) AS total,
       min(minimum) FILTER (WHERE metric = $2) AS minimum,
       max(maximum) FILTER (WHERE metric = $2) AS maximum,
       sum(total) FILTER (WHERE metric = $3) AS other
FROM rows
GROUP BY 1
"""
# One metric at the rollup's own width: its rows as they are, no binning or grouping.
AT_WIDTH = """
SELECT b AS at, n, total, minimum, maximum, total AS other
FROM rows
"""
ROLLUPS_ACROSS = (("observations_1h_all", 3600), ("observations_5m_all", 300))  # widest first
# Each query over a rollup: its rows and those summed from the rows as ``rows``.
OVER_ROLLUP = """
WITH stale AS MATERIALIZED ({stale}), rows AS ({rows})
{query}
"""
# Each bucket's value by the indicator's kind, unordered: PostgreSQL's sort of a month at 5
# minutes cost about 4 ms, Python's of the rows, which come nearly in order, well under one.
VALUES = "SELECT at, {value} AS value FROM ({buckets}) AS bucket"


def _over_rollup(query: str, table: str, width: int) -> str:
    names = {"width": width, "origin": BUCKET_ORIGIN_SQL}
    return OVER_ROLLUP.format(
        stale=STALE.format(**names),
        rows=ROLLUP_AND_TAIL.format(table=table, **names),
        query=query.format(origin=BUCKET_ORIGIN_SQL),
    )


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


async def bucket_values(
    connection: Any, d: IndicatorDefinition, start: datetime, end: datetime, interval: timedelta
) -> list[Any]:
    """Per bucket, in no order: its start ``at`` and its ``value`` by the indicator's kind
    (``bucket_sql``, over the metric's or numerator's ``n``, ``total``, ``minimum``,
    ``maximum`` and the denominator's sum ``other``), NULL where there is none."""
    assert d.kind.bucket_sql is not None, "a kind without series has no buckets"
    seconds = interval.total_seconds()
    first, second = (d.numerator, d.denominator) if d.numerator else (d.metric, d.metric)
    for table, width in ROLLUPS_ACROSS:
        if seconds % width == 0:
            watermark = await connection.fetchval(
                WATERMARK.format(origin=BUCKET_ORIGIN_SQL), table, timedelta(seconds=width), start
            )
            args: tuple[Any, ...] = (d.feed, first, second, start, end, watermark)
            if seconds == width and first == second:
                query = _over_rollup(AT_WIDTH, table, width)
            else:
                query, args = _over_rollup(BUCKETS, table, width), (*args, interval)
            sql = VALUES.format(value=d.kind.bucket_sql, buckets=query)
            return await connection.fetch(sql, *args)  # type: ignore[no-any-return]
    sql = VALUES.format(
        value=d.kind.bucket_sql, buckets=RAW_BUCKETS.format(origin=BUCKET_ORIGIN_SQL)
    )
    return await connection.fetch(  # type: ignore[no-any-return]
        sql, interval, d.feed, first, second, start, end
    )


def _metrics(d: IndicatorDefinition) -> list[str]:
    return [m for m in (d.metric, d.numerator, d.denominator) if m is not None]
