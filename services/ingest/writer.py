"""Writes one batch in one transaction: event rows, latest values, entities and quarantine.

Every statement is an idempotent upsert, so replaying a batch after a crash changes nothing.
The event rows, most of a batch, reach PostgreSQL by binary COPY into staging tables; the
smaller tables' rows go as arrays through ``unnest``: one round trip per table per batch.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.canonical import Observation
from services.common.db import INGESTED_CHANNEL
from services.ingest.batch import Batch, Received
from services.ingest.rollups import Key, adding, hold_watermarks, recompute_rollups

# Each connection's own staging tables, emptied by every commit (and by a rollback): COPY is
# the cheapest way in for rows, on both sides; the statements below read them from there.
STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staged_numbers (
    feed text, entity text, metric text, ts timestamptz, value double precision,
    src_partition integer, src_offset bigint
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS staged_states (
    feed text, entity text, metric text, ts timestamptz, value text,
    src_partition integer, src_offset bigint
) ON COMMIT DELETE ROWS;
"""
STAGED = {"observations": "staged_numbers", "states": "staged_states"}
EVENT_COLUMNS = ["feed", "entity", "metric", "ts", "value", "src_partition", "src_offset"]

# Into either event table: numbers into observations, text states into states.
UPSERT_EVENTS = """
INSERT INTO {table} (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT feed, entity, metric, ts, value, src_partition, src_offset FROM {staged}
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

# New rows are written first, both event tables in one statement, so the writer knows which
# are new (most) and which may be changes (replays, which change nothing, and corrections):
# PostgreSQL cannot say "inserted or updated" of a partitioned table's upsert. In plain mode
# the same statement adds the new numbers to the rollups. It answers, per feed, how many
# records and rows were new: the hourly counts need the first, the writer the second.
INSERT_NEW = """
WITH added_numbers AS (
    INSERT INTO observations (feed, entity, metric, ts, value, src_partition, src_offset)
    SELECT feed, entity, metric, ts, value, src_partition, src_offset FROM staged_numbers
    ON CONFLICT (feed, entity, metric, ts) DO NOTHING
    RETURNING feed, entity, metric, ts, value
), added_states AS (
    INSERT INTO states (feed, entity, metric, ts, value, src_partition, src_offset)
    SELECT feed, entity, metric, ts, value, src_partition, src_offset FROM staged_states
    ON CONFLICT (feed, entity, metric, ts) DO NOTHING
    RETURNING feed, entity, ts
){rollups}
SELECT feed, count(DISTINCT (entity, ts)) AS records, count(*) AS rows
FROM (SELECT feed, entity, ts FROM added_numbers
      UNION ALL SELECT feed, entity, ts FROM added_states) AS added
GROUP BY feed
"""
INSERT_NEW_PLAIN = INSERT_NEW.format(rollups="".join(f",{cte}" for cte in adding("added_numbers")))
INSERT_NEW_TIMESCALE = INSERT_NEW.format(rollups="")
RETURNING_CHANGES = " RETURNING feed, entity, metric, ts"

# How far each partition's records are counted in the hourly counts: a batch written again (a
# kill between the two commits, a batch dropped at a rebalance) counts only what lies past it.
COUNTED_UNTIL = """
SELECT topic, partition, counted_until FROM feed_count_marks
WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[]))
ORDER BY topic, partition
FOR UPDATE
"""
ADVANCE_COUNTED_UNTIL = """
INSERT INTO feed_count_marks (topic, partition, counted_until)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
ON CONFLICT (topic, partition) DO UPDATE
SET counted_until = greatest(feed_count_marks.counted_until, EXCLUDED.counted_until)
"""

# What the feed sent this hour: the quality scores (correct, clean) read these sums.
ADD_HOURLY_COUNTS = """
INSERT INTO feed_hourly_counts (feed, hour, records, quarantined, repeated)
SELECT feed, date_trunc('hour', $5::timestamptz), records, quarantined, repeated
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
    AS batch (feed, records, quarantined, repeated)
ON CONFLICT (feed, hour) DO UPDATE
SET records = feed_hourly_counts.records + EXCLUDED.records,
    quarantined = feed_hourly_counts.quarantined + EXCLUDED.quarantined,
    repeated = feed_hourly_counts.repeated + EXCLUDED.repeated
"""

INSERT_REJECTIONS = """
INSERT INTO rejections (feed, topic, partition, "offset", reason, raw)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bytea[])
ON CONFLICT (topic, partition, "offset") DO NOTHING
"""


async def prepare_connection(connection: Any) -> None:
    """Run on each of the worker's connections as it opens: its staging tables."""
    await connection.execute(STAGING)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a batch's write sends, made in Python before its transaction opens: the event rows
    as COPY records, and the latest values and entities as columns for ``unnest``."""

    numbers: list[tuple[Any, ...]]  # staged_numbers' EVENT_COLUMNS
    states: list[tuple[Any, ...]]  # staged_states' EVENT_COLUMNS
    latest: list[list[Any]]  # feed, entity, metric, ts, value, text
    entities: list[list[Any]]  # feed, entity, attributes (JSON text), ts
    feeds: list[str]  # that have rows, sorted: the NOTIFY's payload

    @property
    def rows(self) -> int:
        return len(self.numbers) + len(self.states)


def prepared(batch: Batch) -> Prepared:
    numbers: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    # Each series' newest observation in the batch; at equal times the later record wins (the
    # rows are in log order, and a later record replaced an earlier one of the same key).
    newest: dict[tuple[str, str, str], Observation] = {}
    for observation, partition, offset in batch.rows.values():
        feed, entity, metric, ts, value, text = observation
        if value is not None:
            numbers.append((feed, entity, metric, ts, value, partition, offset))
        elif text is not None:
            states.append((feed, entity, metric, ts, text, partition, offset))
        known = newest.get((feed, entity, metric))
        if known is None or ts >= known.ts:
            newest[(feed, entity, metric)] = observation
    records = list(batch.entities.values())
    feeds, entities, times = _arrays(records, "feed", "entity", "ts")
    attributes = [json.dumps(r.attributes, ensure_ascii=False, sort_keys=True) for r in records]
    return Prepared(
        numbers,
        states,
        [list(column) for column in zip(*newest.values(), strict=True)] or [[]] * 6,
        [feeds, entities, attributes, times],
        sorted({key[0] for key in batch.rows}),
    )


async def write_batch(
    connection: Any, batch: Batch, *, rollups: bool, received_at: datetime
) -> None:
    """Writes the batch in one transaction; nothing of it is visible unless all of it is.
    ``rollups``: keep the per-entity rollup tables exact too, and tell those across entities
    what changed below their watermarks (plain mode). ``received_at``: the moment whose
    hour the feeds' counts are added to."""
    write = prepared(batch)
    async with connection.transaction():
        if rollups:
            await hold_watermarks(connection)
        await stage(connection, write.numbers, write.states)
        added = await connection.fetch(INSERT_NEW_PLAIN if rollups else INSERT_NEW_TIMESCALE)
        if sum(feed["rows"] for feed in added) < write.rows:
            # Some rows were already held: replays (which change nothing) or corrections.
            corrected = await _upsert(connection, "observations", bool(write.numbers))
            await _upsert(connection, "states", bool(write.states))
            if rollups:
                await recompute_rollups(connection, corrected)
        if write.latest[0]:
            await connection.execute(UPSERT_LATEST, *write.latest)
        if write.entities[0]:
            await connection.execute(UPSERT_ENTITIES, *write.entities)
        if write.feeds:  # delivered on commit, to the API processes listening
            await connection.execute(
                "SELECT pg_notify($1, $2)", INGESTED_CHANNEL, ",".join(write.feeds)
            )
        if batch.quarantined:
            await connection.execute(
                INSERT_REJECTIONS,
                *_arrays(
                    batch.quarantined, "feed", "topic", "partition", "offset", "reason", "raw"
                ),
            )
        new_records = {feed["feed"]: feed["records"] for feed in added}
        await _add_hourly_counts(connection, batch, new_records, received_at)


async def stage(
    connection: Any, numbers: list[tuple[Any, ...]], states: list[tuple[Any, ...]]
) -> None:
    """Copies a batch's event rows into this connection's staging tables (in a transaction)."""
    for staged, records in (("staged_numbers", numbers), ("staged_states", states)):
        if records:
            await connection.copy_records_to_table(staged, records=records, columns=EVENT_COLUMNS)


async def _upsert(connection: Any, table: str, any_staged: bool) -> list[Key]:
    """Writes the staged rows an event table may already hold; returns the keys of those whose
    value changed."""
    if not any_staged:
        return []
    upsert = UPSERT_EVENTS.format(table=table, staged=STAGED[table]) + RETURNING_CHANGES
    return [tuple(record) for record in await connection.fetch(upsert)]


async def _add_hourly_counts(
    connection: Any, batch: Batch, new: dict[str, int], received_at: datetime
) -> None:
    """Adds the batch's records to the feeds' hourly counts, each record once: those a write of
    an earlier batch already counted (a replay) are left out."""
    partitions = sorted(batch.offsets)
    topics, numbers = [t for t, _ in partitions], [p for _, p in partitions]
    marks = {
        (mark["topic"], mark["partition"]): mark["counted_until"]
        for mark in await connection.fetch(COUNTED_UNTIL, topics, numbers)
    }
    uncounted = [r for r in batch.received if r.offset >= marks.get((r.topic, r.partition), 0)]
    if uncounted:
        await connection.execute(ADD_HOURLY_COUNTS, *counts(uncounted, new), received_at)
    ends = [batch.offsets[tp] for tp in partitions]
    await connection.execute(ADVANCE_COUNTED_UNTIL, topics, numbers, ends)


def counts(uncounted: Sequence[Received], new: dict[str, int]) -> list[list[Any]]:
    """Per feed: records received, quarantined, and repeated (valid, but for an event time
    already held or already in this batch: duplicates and corrections). ``new``: per feed, the
    records whose rows were new (only records not counted before can have new rows)."""
    received = Counter(record.feed for record in uncounted)
    quarantined = Counter(record.feed for record in uncounted if record.invalid)
    feeds = sorted(received)
    repeated = [max(received[f] - quarantined[f] - new.get(f, 0), 0) for f in feeds]
    return [feeds, [received[f] for f in feeds], [quarantined[f] for f in feeds], repeated]


def _arrays(items: Sequence[object], *fields: str) -> list[list[Any]]:
    """One array per field, for ``unnest``: the batch's rows as columns."""
    return [[getattr(item, field) for item in items] for field in fields]
