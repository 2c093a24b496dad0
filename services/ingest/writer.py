"""Writes one batch in one transaction: event rows, latest values, entities and quarantine.

Every statement is an idempotent upsert, so replaying a batch after a crash changes nothing.
Arrays are passed through ``unnest`` so each table costs one round trip per batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from services.common.canonical import Observation
from services.common.db import INGESTED_CHANNEL
from services.ingest.batch import Batch, Row
from services.ingest.rollups import update_rollups

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

# Plain mode writes new rows first, so it knows which are new (most) and which may be changes.
INSERT_NEW_OBSERVATIONS = """
INSERT INTO observations (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                     $5::double precision[], $6::int[], $7::bigint[])
ON CONFLICT (feed, entity, metric, ts) DO NOTHING
RETURNING feed, entity, metric, ts
"""
RETURNING_CHANGES = " RETURNING feed, entity, metric, ts"

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
            upsert = UPSERT_OBSERVATIONS.format(table="observations", kind="double precision")
            columns = _columns(numeric, lambda row: row.observation.value)
            if rollups:
                await _write_numeric_with_rollups(connection, numeric, columns)
            else:
                await connection.execute(upsert, *columns)
        if text:
            await connection.execute(
                UPSERT_OBSERVATIONS.format(table="states", kind="text"),
                *_columns(text, lambda row: row.observation.text),
            )
        newest = _newest_per_series(rows)
        if newest:
            await connection.execute(
                UPSERT_LATEST, *_arrays(newest, "feed", "entity", "metric", "ts", "value", "text")
            )
        if batch.entities:
            records = list(batch.entities.values())
            feeds, entities, times = _arrays(records, "feed", "entity", "ts")
            attributes = [
                json.dumps(r.attributes, ensure_ascii=False, sort_keys=True) for r in records
            ]
            await connection.execute(UPSERT_ENTITIES, feeds, entities, attributes, times)
        if rows:  # delivered on commit, to the API processes listening
            changed_feeds = ",".join(sorted({row.observation.feed for row in rows}))
            await connection.execute("SELECT pg_notify($1, $2)", INGESTED_CHANNEL, changed_feeds)
        if batch.rejected:
            await connection.execute(
                INSERT_REJECTIONS,
                *_arrays(batch.rejected, "feed", "topic", "partition", "offset", "reason", "raw"),
            )


async def _write_numeric_with_rollups(
    connection: Any, numeric: list[Row], columns: tuple[list[Any], ...]
) -> None:
    inserted = await connection.fetch(INSERT_NEW_OBSERVATIONS, *columns)
    new_keys = {tuple(record) for record in inserted}
    added: list[Observation] = []
    rest: list[Row] = []
    for row in numeric:
        if _key(row) in new_keys:
            added.append(row.observation)
        else:
            rest.append(row)
    corrected: list[Observation] = []
    if rest:  # replays (which change nothing) and corrections
        upsert = UPSERT_OBSERVATIONS.format(table="observations", kind="double precision")
        changed = await connection.fetch(
            upsert + RETURNING_CHANGES, *_columns(rest, lambda row: row.observation.value)
        )
        changed_keys = {tuple(record) for record in changed}
        corrected = [row.observation for row in rest if _key(row) in changed_keys]
    await update_rollups(connection, added, corrected)


def _key(row: Row) -> tuple[str, str, str, datetime]:
    o = row.observation
    return (o.feed, o.entity, o.metric, o.ts)


def _arrays(items: Sequence[object], *fields: str) -> list[list[Any]]:
    """One array per field, for ``unnest``: the batch's rows as columns."""
    return [[getattr(item, field) for item in items] for field in fields]


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
