"""Writes one batch in one transaction: event rows, latest values, entities and quarantine.

Every statement is an idempotent upsert, so replaying a batch after a crash changes nothing.
Arrays are passed through ``unnest`` so each table costs one round trip per batch.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
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

# New rows are written first, so the writer knows which are new (most) and which may be
# changes (replays, which change nothing, and corrections): the rollups and the daily counts
# need to know, and PostgreSQL cannot say "inserted or updated" of a partitioned table's upsert.
INSERT_NEW = """
INSERT INTO {table} (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::{kind}[],
                     $6::int[], $7::bigint[])
ON CONFLICT (feed, entity, metric, ts) DO NOTHING
RETURNING feed, entity, metric, ts
"""
RETURNING_CHANGES = " RETURNING feed, entity, metric, ts"

# What the feed sent today: the quality scores (correct, clean) read these sums.
ADD_DAILY_COUNTS = """
INSERT INTO feed_daily_counts (feed, day, records, quarantined, repeated)
SELECT feed, $5::date, records, quarantined, repeated
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
    AS batch (feed, records, quarantined, repeated)
ON CONFLICT (feed, day) DO UPDATE
SET records = feed_daily_counts.records + EXCLUDED.records,
    quarantined = feed_daily_counts.quarantined + EXCLUDED.quarantined,
    repeated = feed_daily_counts.repeated + EXCLUDED.repeated
"""

INSERT_REJECTIONS = """
INSERT INTO rejections (feed, topic, partition, "offset", reason, raw)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bytea[])
ON CONFLICT (topic, partition, "offset") DO NOTHING
"""


async def write_batch(connection: Any, batch: Batch, *, rollups: bool, received_on: date) -> None:
    """Writes the batch in one transaction; nothing of it is visible unless all of it is.
    ``rollups``: keep the rollup tables exact too (plain mode). ``received_on``: the (UTC) day
    the feeds' daily counts are added to."""
    rows = list(batch.rows.values())
    numeric = [row for row in rows if row.observation.value is not None]
    text = [row for row in rows if row.observation.text is not None]
    async with connection.transaction():
        added, corrected = await _write_rows(connection, "observations", numeric, _number)
        if rollups:
            await update_rollups(
                connection, [r.observation for r in added], [r.observation for r in corrected]
            )
        added_states, _ = await _write_rows(connection, "states", text, _text)
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
        new_keys = {(r.observation.feed, r.observation.entity, r.observation.ts) for r in added}
        new_keys |= {
            (r.observation.feed, r.observation.entity, r.observation.ts) for r in added_states
        }
        await connection.execute(ADD_DAILY_COUNTS, *_daily_counts(batch, new_keys), received_on)


async def _write_rows(
    connection: Any, table: str, rows: list[Row], value: Callable[[Row], object]
) -> tuple[list[Row], list[Row]]:
    """Writes the rows to an event table; returns those added and those corrected."""
    if not rows:
        return [], []
    kind = "text" if table == "states" else "double precision"
    inserted = await connection.fetch(
        INSERT_NEW.format(table=table, kind=kind), *_columns(rows, value)
    )
    new_keys = {tuple(record) for record in inserted}
    added = [row for row in rows if _key(row) in new_keys]
    rest = [row for row in rows if _key(row) not in new_keys]
    if not rest:
        return added, []
    upsert = UPSERT_OBSERVATIONS.format(table=table, kind=kind) + RETURNING_CHANGES
    changed_keys = {
        tuple(record) for record in await connection.fetch(upsert, *_columns(rest, value))
    }
    return added, [row for row in rest if _key(row) in changed_keys]


def _record_key(row: Row) -> tuple[str, str, datetime]:
    """The department record a row came from: one entity at one event time."""
    return (row.observation.feed, row.observation.entity, row.observation.ts)


def _number(row: Row) -> object:
    return row.observation.value


def _text(row: Row) -> object:
    return row.observation.text


def _daily_counts(batch: Batch, new_keys: set[tuple[str, str, datetime]]) -> list[list[Any]]:
    """Per feed: records received, quarantined, and repeated (valid, but for an event time
    already held or already in this batch: duplicates and corrections)."""
    quarantined = Counter(rejected.feed for rejected in batch.rejected)
    new = Counter(feed for feed, _, _ in new_keys)
    feeds = sorted(batch.records_by_feed)
    received = [batch.records_by_feed[feed] for feed in feeds]
    held = [quarantined[feed] for feed in feeds]
    repeated = [max(r - q - new[f], 0) for f, r, q in zip(feeds, received, held, strict=True)]
    return [feeds, received, held, repeated]


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
