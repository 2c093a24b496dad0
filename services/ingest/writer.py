"""Writes one batch in one transaction: event rows, latest values, entities and quarantine.

Every statement is an idempotent upsert, so replaying a batch after a crash changes nothing.
Arrays are passed through ``unnest`` so each table costs one round trip per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from services.common.canonical import Observation
from services.ingest.batch import Batch, Row

UPSERT_OBSERVATIONS = """
INSERT INTO {table} (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::{kind}[],
                     $6::int[], $7::bigint[])
ON CONFLICT (feed, entity, metric, ts) DO UPDATE
SET value = EXCLUDED.value, src_partition = EXCLUDED.src_partition,
    src_offset = EXCLUDED.src_offset, ingested_at = now()
WHERE {table}.value IS DISTINCT FROM EXCLUDED.value
"""

# The latest value only moves forward in event time; a correction at the same time wins.
UPSERT_LATEST = """
INSERT INTO latest (feed, entity, metric, ts, value, text)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                     $5::double precision[], $6::text[])
ON CONFLICT (feed, entity, metric) DO UPDATE
SET ts = EXCLUDED.ts, value = EXCLUDED.value, text = EXCLUDED.text, updated_at = now()
WHERE latest.ts <= EXCLUDED.ts
  AND (latest.ts, latest.value, latest.text) IS DISTINCT FROM
      (EXCLUDED.ts, EXCLUDED.value, EXCLUDED.text)
"""

UPSERT_ENTITIES = """
INSERT INTO entities (feed, entity, attributes, ts)
SELECT feed, entity, attributes::jsonb, ts
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
    AS incoming (feed, entity, attributes, ts)
ON CONFLICT (feed, entity) DO UPDATE
SET attributes = EXCLUDED.attributes, ts = EXCLUDED.ts
WHERE entities.ts <= EXCLUDED.ts
"""

# Plain mode's rollups: every bucket the batch touched is recomputed from the stored rows, so a
# correction or a replay leaves them exact. LATERAL keeps each recomputation an index range scan
# of one series in one partition. The hour is rebuilt from its twelve 5-minute buckets.
# (TimescaleDB mode has continuous aggregates instead.)
REFRESH_ROLLUP = """
WITH touched AS (
    SELECT DISTINCT feed, entity, metric,
           date_bin($5::interval, ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
        AS t (feed, entity, metric, ts)
)
INSERT INTO {table} (feed, entity, metric, bucket, n, total, minimum, maximum)
SELECT t.feed, t.entity, t.metric, t.bucket, agg.n, agg.total, agg.minimum, agg.maximum
FROM touched t
CROSS JOIN LATERAL (
    SELECT {aggregates}
    FROM {source} s
    WHERE s.feed = t.feed AND s.entity = t.entity AND s.metric = t.metric
      AND s.{time} >= t.bucket AND s.{time} < t.bucket + $5::interval
) agg
WHERE agg.n > 0
ON CONFLICT (feed, entity, metric, bucket) DO UPDATE
SET n = EXCLUDED.n, total = EXCLUDED.total, minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum
"""
FROM_OBSERVATIONS = {
    "source": "observations",
    "time": "ts",
    "aggregates": "count(*)::integer AS n, sum(value) AS total, min(value) AS minimum,"
    " max(value) AS maximum",
}
FROM_FIVE_MINUTES = {
    "source": "observations_5m",
    "time": "bucket",
    "aggregates": "coalesce(sum(n), 0)::integer AS n, sum(total) AS total,"
    " min(minimum) AS minimum, max(maximum) AS maximum",
}
ROLLUPS = (
    ("observations_5m", timedelta(minutes=5), FROM_OBSERVATIONS),
    ("observations_1h", timedelta(hours=1), FROM_FIVE_MINUTES),
)
INSERT_REJECTIONS = """
INSERT INTO rejections (feed, topic, partition, "offset", reason, raw)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bytea[])
ON CONFLICT (topic, partition, "offset") DO NOTHING
"""


async def write_batch(connection: Any, batch: Batch, *, rollups: bool) -> None:
    """Writes the batch in one transaction; nothing of it is visible unless all of it is.
    ``rollups``: keep the rollup tables exact too (plain mode)."""
    rows = list(batch.rows.values())
    numeric = [row for row in rows if row.observation.value is not None]
    text = [row for row in rows if row.observation.text is not None]
    async with connection.transaction():
        if numeric:
            await connection.execute(
                UPSERT_OBSERVATIONS.format(table="observations", kind="double precision"),
                *_columns(numeric, lambda row: row.observation.value),
            )
        if numeric and rollups:
            columns = _columns(numeric, lambda row: row.observation.value)[:4]
            for table, width, source in ROLLUPS:  # in order: the hour reads the 5 minutes
                refresh = REFRESH_ROLLUP.format(table=table, **source)
                await connection.execute(refresh, *columns, width)
        if text:
            await connection.execute(
                UPSERT_OBSERVATIONS.format(table="states", kind="text"),
                *_columns(text, lambda row: row.observation.text),
            )
        newest = _newest_per_series(rows)
        if newest:
            await connection.execute(
                UPSERT_LATEST,
                [o.feed for o in newest],
                [o.entity for o in newest],
                [o.metric for o in newest],
                [o.ts for o in newest],
                [o.value for o in newest],
                [o.text for o in newest],
            )
        if batch.entities:
            records = list(batch.entities.values())
            await connection.execute(
                UPSERT_ENTITIES,
                [r.feed for r in records],
                [r.entity for r in records],
                [json.dumps(r.attributes, ensure_ascii=False, sort_keys=True) for r in records],
                [r.ts for r in records],
            )
        if batch.rejected:
            rejected = batch.rejected
            await connection.execute(
                INSERT_REJECTIONS,
                [r.feed for r in rejected],
                [r.topic for r in rejected],
                [r.partition for r in rejected],
                [r.offset for r in rejected],
                [r.reason for r in rejected],
                [r.raw for r in rejected],
            )


def _columns(rows: list[Row], value: Callable[[Row], object]) -> tuple[list[Any], ...]:
    return (
        [row.observation.feed for row in rows],
        [row.observation.entity for row in rows],
        [row.observation.metric for row in rows],
        [row.observation.ts for row in rows],
        [value(row) for row in rows],
        [row.partition for row in rows],
        [row.offset for row in rows],
    )


def _newest_per_series(rows: list[Row]) -> list[Observation]:
    """Each series' newest observation in the batch; at equal times the later record wins."""
    newest: dict[tuple[str, str, str], Observation] = {}
    for row in rows:  # in log order
        o = row.observation
        key = (o.feed, o.entity, o.metric)
        known = newest.get(key)
        if known is None or o.ts >= known.ts:
            newest[key] = o
    return list(newest.values())
