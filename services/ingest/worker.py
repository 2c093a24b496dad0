"""The ingest worker: poll, assemble, dead-letter, write, commit, in that order.

Offsets are committed only after the batch's transaction has committed, so a crash at any point
replays at most the last batch, and the idempotent writes make the replay change nothing.
Failures have one fate each: a bad record is quarantined; an unavailable database pauses the
partitions and retries the same batch; anything else crashes the worker for its supervisor.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError

from services.common.db import create_pool
from services.common.feeds import FeedDefinition
from services.common.topics import Topics
from services.ingest import metrics
from services.ingest.batch import Batch, FeedIntake, assemble
from services.ingest.dead_letter import send_dead_letters
from services.ingest.normalise import Normaliser
from services.ingest.settings import WorkerSettings
from services.ingest.writer import write_batch

log = logging.getLogger("ioc.ingest")

# The database is away or overloaded: retry, never skip. Everything else is a bug: crash.
DATABASE_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def feed_intakes(feeds: Iterable[FeedDefinition], topics: Topics) -> dict[str, FeedIntake]:
    return {
        topics.raw(f.feed): FeedIntake(f.feed, Normaliser(f), timedelta(days=f.backfill_days))
        for f in feeds
    }


async def run_worker(
    settings: WorkerSettings,
    feeds: Iterable[FeedDefinition],
    stop: asyncio.Event,
    *,
    now: Callable[[], datetime] = utc_now,
) -> None:
    topics = settings.common.topics
    intakes = feed_intakes(feeds, topics)
    pool = await create_pool(settings.common.database_url, min_size=1, max_size=2)
    consumer = AIOKafkaConsumer(
        *intakes,
        bootstrap_servers=settings.common.kafka_bootstrap,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.batch_max_records,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.common.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    await consumer.start()
    log.info("worker started: %d feeds, group %s", len(intakes), settings.group_id)
    try:
        await _ensure_partitions(pool, intakes.values(), now())
        while not stop.is_set():
            polled = await consumer.getmany(
                timeout_ms=settings.batch_max_age_ms, max_records=settings.batch_max_records
            )
            records = [record for batch in polled.values() for record in batch]
            if not records:
                continue
            batch = assemble(
                records, intakes, now=now, future_bound=timedelta(seconds=settings.future_bound_s)
            )
            await send_dead_letters(producer, topics.dlq, batch.rejected)
            await _write_until_done(pool, consumer, batch, settings.db_retry_max_s)
            await _commit(consumer, batch)
            _count(batch)
    finally:
        await consumer.stop()
        await producer.stop()
        await pool.close()
        log.info("worker stopped")


async def _ensure_partitions(pool: Any, intakes: Iterable[FeedIntake], at: datetime) -> None:
    """Plain mode: make sure a monthly partition exists for every admissible event time."""
    async with pool.acquire() as connection:
        if not await connection.fetchval("SELECT to_regproc('ioc_ensure_partitions') IS NOT NULL"):
            return  # TimescaleDB mode: chunks are created as data arrives
        oldest = min((at - intake.backfill).date() for intake in intakes)
        await connection.execute(
            "SELECT ioc_ensure_partitions($1, $2)", oldest, (at + timedelta(days=95)).date()
        )


async def _write_until_done(pool: Any, consumer: Any, batch: Batch, retry_max_s: float) -> None:
    delay = 0.2
    while True:
        try:
            with metrics.WRITE_SECONDS.time():
                async with pool.acquire() as connection:
                    await write_batch(connection, batch)
        except DATABASE_UNAVAILABLE as error:
            metrics.DB_RETRIES.inc()
            log.warning("database unavailable (%r); pausing, retry in %.1fs", error, delay)
            # Paused, the consumer still polls (so it keeps its partitions) but fetches nothing.
            consumer.pause(*consumer.assignment())
            await consumer.getmany(timeout_ms=int(delay * 1000))
            delay = min(delay * 2, retry_max_s)
            continue
        consumer.resume(*consumer.paused())
        return


async def _commit(consumer: Any, batch: Batch) -> None:
    offsets = {TopicPartition(topic, p): offset for (topic, p), offset in batch.offsets.items()}
    try:
        await consumer.commit(offsets)
    except CommitFailedError:
        # The partitions moved to another worker during the write: it replays this batch, and
        # the idempotent upserts make that replay change nothing.
        log.warning(
            "commit failed after a rebalance; the new owner replays %d records", batch.records
        )
        return
    metrics.LAST_COMMIT.set_to_current_time()


def _count(batch: Batch) -> None:
    metrics.BATCH_RECORDS.observe(batch.records)
    for feed, count in batch.records_by_feed.items():
        metrics.RECORDS_IN.labels(feed).inc(count)
    for feed, count in Counter(row.observation.feed for row in batch.rows.values()).items():
        metrics.ROWS_WRITTEN.labels(feed).inc(count)
    for feed, count in Counter(rejected.feed for rejected in batch.rejected).items():
        metrics.RECORDS_REJECTED.labels(feed).inc(count)
