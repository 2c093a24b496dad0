"""Plain mode's 5-minute and 1-hour rollups per entity, kept exact in each batch's transaction,
and what the batch tells the rollups across entities. (TimescaleDB mode has continuous
aggregates instead.)

New observations add to their buckets (count, sum, min, max) in the very statement that inserts
them (``adding``), grouped by PostgreSQL: cheap arithmetic, no reading of stored rows. A changed
one (a corrected day, a corrected reading) cannot be subtracted from a min or max, so its buckets
are recomputed from the stored rows, the hour from its twelve 5-minute buckets. A replay changes
no row, so it changes no rollup.

The rollups across entities (a feed's metric, every entity summed: what a series reads) are
not written here: every worker's batch would update the same newest rows (measured: half the
write's rate, two workers waiting on each other). A periodic refresh fills them up to a
watermark (migration 0017). A batch only appends, for its new or corrected rows below the
watermark, their (feed, metric, 5-minute bucket) to ``rollup_invalidations``, with what new
rows add there (count, sum, minimum, maximum: the refresh adds it, where a changed row's bucket
is recomputed): no key, nothing another worker waits on. It holds the watermarks first
(``hold_watermarks``), so a refresh cannot move them between the batch's reading them and its
commit.
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


# The buckets across entities the new rows of ``source`` land in below a watermark (the later
# one: what lies only below the 5-minute one is in the hourly series' open tail anyway), with
# what they add there, which the refresh adds in turn (migration 0018). One 5-minute bucket
# stands for the hour holding it too.
INVALIDATE = """
INSERT INTO rollup_invalidations (feed, metric, bucket, n, total, minimum, maximum)
SELECT feed, metric, date_bin('300 seconds', ts, {origin}),
       count(*), sum(value), min(value), max(value)
FROM {source}
WHERE ts < (SELECT max(watermark) FROM rollup_watermarks)
GROUP BY 1, 2, 3"""
# The same for changed rows: no sums (a changed value cannot be taken out of a minimum), so the
# refresh recomputes their buckets.
INVALIDATE_CHANGED = """
INSERT INTO rollup_invalidations (feed, metric, bucket)
SELECT DISTINCT feed, metric, date_bin('300 seconds', ts, {origin})
FROM {source}
WHERE ts < (SELECT max(watermark) FROM rollup_watermarks)"""
HOLD_WATERMARKS = "SELECT ioc_hold_rollup_watermarks()"


async def refresh_across(connection: Any, at: datetime) -> int:
    """The rollups across entities brought up to the last bucket closed at ``at``, a day of
    buckets a call (``ioc_refresh_rollups_across``: each call its own short transaction, so
    batches go on between them); how many calls it took."""
    calls = 1
    while not await connection.fetchval("SELECT ioc_refresh_rollups_across($1)", at):
        calls += 1
    return calls


async def hold_watermarks(connection: Any) -> None:
    """The batch's first statement in plain mode (its own, so the watermarks the next ones read
    are those after any refresh it waited for): the refresh waits for the commit."""
    await connection.execute(HOLD_WATERMARKS)


def adding(source: str) -> list[str]:
    """Common table expressions adding the rows of ``source`` (new observations: feed, entity,
    metric, ts, value) to every per-entity rollup, and invalidating the buckets across entities
    they land in below the watermarks, for a statement that inserts them."""
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
        f"invalidated AS ({INVALIDATE.format(origin=BUCKET_ORIGIN_SQL, source=source)})",
    ]


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
    keys: feed, entity, metric, ts), and invalidates those across entities below the
    watermarks."""
    if not corrected:
        return
    feeds, _, metrics, times = (list(column) for column in zip(*corrected, strict=True))
    changed = "unnest($1::text[], $2::text[], $3::timestamptz[]) AS changed (feed, metric, ts)"
    await connection.execute(
        INVALIDATE_CHANGED.format(origin=BUCKET_ORIGIN_SQL, source=changed), feeds, metrics, times
    )
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
