"""Plain mode's 5-minute and 1-hour rollups, kept exact in each batch's transaction: per
entity, and across entities (a feed's metric, every entity summed: what a series reads).
(TimescaleDB mode has continuous aggregates instead.)

New observations add to their buckets (count, sum, min, max) in the very statement that inserts
them (``adding``), grouped by PostgreSQL: cheap arithmetic, no reading of stored rows. A changed
one (a corrected day, a corrected reading) cannot be subtracted from a min or max, so its buckets
are recomputed from the stored rows, the hour from its twelve 5-minute buckets. A replay changes
no row, so it changes no rollup.

The rollups across entities are shared: every worker's batch of a feed adds to the same newest
bucket. So they are written last in the transaction, after the feeds' hourly counts (the other
rows workers share), every row in one order (feed, metric, bucket), the 5-minute table before
the hourly one: a worker waits for another's commit there, never in a cycle. A changed bucket is
locked first (by adding nothing to it) and recomputed after, by a statement that sees every
commit that added to it before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from services.common.tables import BUCKET_ORIGIN, BUCKET_ORIGIN_SQL

WIDTHS = (("observations_5m", 300), ("observations_1h", 3600))  # in order: hours read 5 min
ACROSS = (("observations_5m_all", 300), ("observations_1h_all", 3600))  # the same, all entities

ADD = """
{name} AS (
    INSERT INTO {table} AS r (feed, entity, metric, bucket, n, total, minimum, maximum)
    SELECT feed, entity, metric,
           date_bin('{seconds} seconds', ts, {origin}),
           count(*), sum(value), min(value), max(value)
    FROM {source}
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (feed, entity, metric, bucket) DO UPDATE
    SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total,
        minimum = least(r.minimum, EXCLUDED.minimum),
        maximum = greatest(r.maximum, EXCLUDED.maximum)
)"""


# The batch's new rows per feed, metric and 5-minute bucket, for the rollups across entities.
STAGE_ACROSS = """
staged_for_across AS (
    INSERT INTO staged_sums (feed, metric, bucket, n, total, minimum, maximum)
    SELECT feed, metric, date_bin('300 seconds', ts, {origin}),
           count(*), sum(value), min(value), max(value)
    FROM {source}
    GROUP BY 1, 2, 3
)"""


def adding(source: str) -> list[str]:
    """Common table expressions adding the rows of ``source`` (new observations: feed, entity,
    metric, ts, value) to every per-entity rollup, and staging them for the rollups across
    entities (``keep_across``), for a statement that inserts them."""
    return [
        *(
            ADD.format(
                name=f"added_to_{table}",
                table=table,
                seconds=seconds,
                origin=BUCKET_ORIGIN_SQL,
                source=source,
            )
            for table, seconds in WIDTHS
        ),
        STAGE_ACROSS.format(origin=BUCKET_ORIGIN_SQL, source=source),
    ]


# The staged sums, and nothing (n 0, bounds at infinity) for each bucket to recompute, which
# locks it. ORDER BY: every worker takes the shared rows in one order.
ADD_ACROSS = """
INSERT INTO {table} AS r (feed, metric, bucket, n, total, minimum, maximum)
SELECT feed, metric, bucket, sum(n)::integer, sum(total), min(minimum), max(maximum)
FROM (
    SELECT feed, metric, date_bin('{seconds} seconds', bucket, {origin}) AS bucket,
           n, total, minimum, maximum
    FROM staged_sums
    UNION ALL
    SELECT feed, metric, bucket, 0, 0, 'Infinity', '-Infinity'
    FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS changed (feed, metric, bucket)
) AS sums
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (feed, metric, bucket) DO UPDATE
SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total,
    minimum = least(r.minimum, EXCLUDED.minimum),
    maximum = greatest(r.maximum, EXCLUDED.maximum)
"""

# A changed bucket across entities from the per-entity rollup: each entity of the metric (every
# series stored has a row in ``latest``) found by the per-entity rollup's key, not a scan of
# the feed. The hourly one from its twelve 5-minute buckets.
RECOMPUTE_ACROSS = {
    "observations_5m_all": """
INSERT INTO observations_5m_all (feed, metric, bucket, n, total, minimum, maximum)
SELECT t.feed, t.metric, t.bucket, agg.n, agg.total, agg.minimum, agg.maximum
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t (feed, metric, bucket)
CROSS JOIN LATERAL (
    SELECT sum(s.n)::integer AS n, sum(s.total) AS total,
           min(s.minimum) AS minimum, max(s.maximum) AS maximum
    FROM latest l
    JOIN observations_5m s
      ON s.feed = l.feed AND s.entity = l.entity AND s.metric = l.metric AND s.bucket = t.bucket
    WHERE l.feed = t.feed AND l.metric = t.metric
) agg
ON CONFLICT (feed, metric, bucket) DO UPDATE
SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum
""",
    "observations_1h_all": """
INSERT INTO observations_1h_all (feed, metric, bucket, n, total, minimum, maximum)
SELECT t.feed, t.metric, t.bucket, agg.n, agg.total, agg.minimum, agg.maximum
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t (feed, metric, bucket)
CROSS JOIN LATERAL (
    SELECT sum(s.n)::integer AS n, sum(s.total) AS total,
           min(s.minimum) AS minimum, max(s.maximum) AS maximum
    FROM observations_5m_all s
    WHERE s.feed = t.feed AND s.metric = t.metric
      AND s.bucket >= t.bucket AND s.bucket < t.bucket + interval '1 hour'
) agg
ON CONFLICT (feed, metric, bucket) DO UPDATE
SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum
""",
}


async def keep_across(connection: Any, corrected: Sequence[Key]) -> None:
    """Adds the batch's staged sums to the rollups across entities and recomputes the buckets
    of ``corrected`` observations; the transaction's last writes (see the module's doc)."""
    changed = {
        table: [list(c) for c in zip(*sorted(_across_keys(corrected, seconds)), strict=True)]
        or [[], [], []]
        for table, seconds in ACROSS
    }
    for table, seconds in ACROSS:
        sql = ADD_ACROSS.format(table=table, seconds=seconds, origin=BUCKET_ORIGIN_SQL)
        await connection.execute(sql, *changed[table])
    if corrected:
        for table, _ in ACROSS:
            await connection.execute(RECOMPUTE_ACROSS[table], *changed[table])


def _across_keys(corrected: Sequence[Key], seconds: int) -> set[tuple[str, str, datetime]]:
    return {(feed, metric, bucket_of(ts, seconds)) for feed, _, metric, ts in corrected}


# LATERAL keeps each recomputation an index range scan of one series.
RECOMPUTE = """
INSERT INTO {table} (feed, entity, metric, bucket, n, total, minimum, maximum)
SELECT t.feed, t.entity, t.metric, t.bucket, agg.n, agg.total, agg.minimum, agg.maximum
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
    AS t (feed, entity, metric, bucket)
CROSS JOIN LATERAL (
    SELECT {aggregates}
    FROM {source} s
    WHERE s.feed = t.feed AND s.entity = t.entity AND s.metric = t.metric
      AND s.{time} >= t.bucket AND s.{time} < t.bucket + $5::interval
) agg
ON CONFLICT (feed, entity, metric, bucket) DO UPDATE
SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum
"""
SOURCES = {
    "observations_5m": {
        "source": "observations",
        "time": "ts",
        "aggregates": "count(*)::integer AS n, sum(value) AS total, min(value) AS minimum, "
        "max(value) AS maximum",
    },
    "observations_1h": {
        "source": "observations_5m",
        "time": "bucket",
        "aggregates": "sum(n)::integer AS n, sum(total) AS total, min(minimum) AS minimum, "
        "max(maximum) AS maximum",
    },
}

Key = tuple[str, str, str, datetime]


def bucket_of(ts: datetime, seconds: int) -> datetime:
    offset = int((ts - BUCKET_ORIGIN).total_seconds()) // seconds * seconds
    return BUCKET_ORIGIN + timedelta(seconds=offset)


async def recompute_rollups(connection: Any, corrected: Sequence[Key]) -> None:
    """Recomputes the buckets of stored observations whose value this batch changed (their
    keys: feed, entity, metric, ts)."""
    if not corrected:
        return
    for table, seconds in WIDTHS:
        buckets = sorted({_key(row, seconds) for row in corrected})
        await connection.execute(
            RECOMPUTE.format(table=table, **SOURCES[table]),
            *[list(column) for column in zip(*buckets, strict=True)],
            timedelta(seconds=seconds),
        )


def _key(key: Key, seconds: int) -> Key:
    feed, entity, metric, ts = key
    return (feed, entity, metric, bucket_of(ts, seconds))
