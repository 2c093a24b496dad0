"""Plain mode's 5-minute and 1-hour rollups, kept exact in each batch's transaction.
(TimescaleDB mode has continuous aggregates instead.)

A new observation adds to its buckets (count, sum, min, max): cheap arithmetic, no reading of
stored rows. A changed one (a corrected day, a corrected reading) cannot be subtracted from a
min or max, so its buckets are recomputed from the stored rows, the hour from its twelve
5-minute buckets. A replay changes no row, so it changes no rollup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.canonical import Observation

WIDTHS = (("observations_5m", 300), ("observations_1h", 3600))  # in order: hours read 5 min
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin's origin; TimescaleDB's buckets agree

ADD = """
INSERT INTO {table} AS r (feed, entity, metric, bucket, n, total, minimum, maximum)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::integer[],
                     $6::double precision[], $7::double precision[], $8::double precision[])
ON CONFLICT (feed, entity, metric, bucket) DO UPDATE
SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total,
    minimum = least(r.minimum, EXCLUDED.minimum), maximum = greatest(r.maximum, EXCLUDED.maximum)
"""

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
    offset = int((ts - ORIGIN).total_seconds()) // seconds * seconds
    return ORIGIN + timedelta(seconds=offset)


async def update_rollups(
    connection: Any, added: Sequence[Observation], corrected: Sequence[Observation]
) -> None:
    """``added``: observations stored for the first time; ``corrected``: stored ones whose value
    this batch changed."""
    for table, seconds in WIDTHS:
        if added:
            await connection.execute(ADD.format(table=table), *_sums(added, seconds))
    for table, seconds in WIDTHS:
        if corrected:
            buckets = sorted({_key(row, seconds) for row in corrected})
            await connection.execute(
                RECOMPUTE.format(table=table, **SOURCES[table]),
                *[list(column) for column in zip(*buckets, strict=True)],
                timedelta(seconds=seconds),
            )


def _key(observation: Observation, seconds: int) -> Key:
    o = observation
    return (o.feed, o.entity, o.metric, bucket_of(o.ts, seconds))


def _sums(rows: Sequence[Observation], seconds: int) -> list[list[Any]]:
    sums: dict[Key, list[float]] = {}
    for row in rows:
        value = row.value
        assert value is not None, "rollups are of numeric observations"
        known = sums.get(_key(row, seconds))
        if known is None:
            sums[_key(row, seconds)] = [1, value, value, value]
        else:
            known[0] += 1
            known[1] += value
            known[2] = min(known[2], value)
            known[3] = max(known[3], value)
    keys = list(sums)
    return [
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [k[3] for k in keys],
        [int(sums[k][0]) for k in keys],
        [sums[k][1] for k in keys],
        [sums[k][2] for k in keys],
        [sums[k][3] for k in keys],
    ]
