"""The ingest worker: poll, assemble, dead-letter, write, commit, in that order.

Offsets are committed only after the batch's transaction has committed, so a crash at any point
replays at most the last batch, and the idempotent writes make the replay change nothing.
Failures have one fate each: a bad record is quarantined; an unavailable database pauses the
partitions and retries the same batch; anything else crashes the worker for its supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from services.common.db import DATABASE_UNAVAILABLE, create_pool, storage_mode
from services.common.feeds import FeedDefinition
from services.common.topics import Topics
from services.ingest import metrics
from services.ingest.batch import Batch, assemble
from services.ingest.dead_letter import send_dead_letters
from services.ingest.failpoints import Failpoint
from services.ingest.intake import FeedIntake
from services.ingest.invalid_ratio import InvalidRatioLimit
from services.ingest.settings import WorkerSettings
from services.ingest.writer import prepare_connection, write_batch

log = logging.getLogger("ioc.ingest")
ASSEMBLY_SLICE = 250  # records assembled between two yields to the write in flight


def utc_now() -> datetime:
    return datetime.now(UTC)


def feed_intakes(feeds: Iterable[FeedDefinition], topics: Topics) -> dict[str, FeedIntake]:
    return {topics.raw(f.feed): FeedIntake.of(f) for f in feeds}


async def run_worker(
    settings: WorkerSettings,
    feeds: Iterable[FeedDefinition],
    stop: asyncio.Event,
    *,
    now: Callable[[], datetime] = utc_now,
) -> None:
    """Consumes every feed's raw topic until ``stop`` is set, then drains and returns."""
    intakes = feed_intakes(feeds, settings.common.topics)
    metrics.initialise(intake.feed for intake in intakes.values())
    pool = await create_pool(
        settings.common.database_url,
        min_size=1,
        max_size=2,
        statement_timeout_s=settings.db_statement_timeout_s,
        setup=prepare_connection,
    )
    consumer = AIOKafkaConsumer(
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
    async with pool.acquire() as connection:
        mode = await storage_mode(connection)
    if mode is None:
        await pool.close()
        raise RuntimeError("the store is not migrated: run `ioc migrate` first")
    worker = _Worker(settings, intakes, pool, consumer, producer, now, plain=mode == "postgres")
    consumer.subscribe(list(intakes), listener=worker.rebalance_listener())
    await producer.start()
    await consumer.start()
    log.info("worker started: %d feeds, group %s", len(intakes), settings.group_id)
    try:
        while not stop.is_set():
            if worker.maintenance is not None:
                await worker.maintenance.run_if_due()
            await worker.step()
        await worker.drain()
    finally:
        await _stop_consumer(consumer)
        await producer.stop()
        await pool.close()
        log.info("worker stopped")


async def _stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stops the consumer, whatever state the brokers are in.

    aiokafka 0.13's fetcher, stopped while it backs off from a node that is down, re-raises the
    cancellation of its own fetch task. Not ours (this task was not cancelled), so the worker
    still exits cleanly on SIGTERM with a broker node away.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("the consumer stopped while a broker node was unreachable")


class _Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        intakes: dict[str, FeedIntake],
        pool: Any,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        now: Callable[[], datetime],
        *,
        plain: bool,
    ) -> None:
        self.settings = settings
        self.plain = plain
        self.maintenance = _Maintenance(pool, now) if plain else None
        self.intakes = intakes
        self.pool = pool
        self.consumer = consumer
        self.producer = producer
        self.now = now
        self.invalid_ratio = InvalidRatioLimit(
            settings.invalid_ratio_limit, settings.invalid_ratio_window
        )
        # Held from the first write to the commit: a revocation waits for the batch in flight.
        self.in_flight = asyncio.Lock()
        # A batch polled before a revocation is not written (see _write_and_commit).
        self.revocations = 0
        # The batch being written while the next one is polled and assembled, and the one lock
        # for polling, which the write's retries do too (to stay in the group while paused).
        self.writing: asyncio.Task[None] | None = None
        self.polling = asyncio.Lock()
        self.batches = 0  # a sequence number for the logs: which batch a line speaks of
        self.after_write = Failpoint("after-write")  # the fault tests' kill between commits

    async def step(self) -> None:
        """Polls and assembles the next batch while the previous one is written: this process's
        Python and PostgreSQL work side by side. Writes and commits stay one at a time, in order.
        """
        revocations = self.revocations  # before the poll: a rebalance during it counts
        async with self.polling:
            polled = await self.consumer.getmany(
                timeout_ms=self.settings.batch_max_age_ms,
                max_records=self.settings.batch_max_records,
            )
        records = [record for batch in polled.values() for record in batch]
        batch = None
        if records:
            self.batches += 1
            batch = Batch()
            # In slices, yielding between them: the batch being written sends its statements
            # meanwhile instead of waiting for the whole assembly.
            for start in range(0, len(records), ASSEMBLY_SLICE):
                assemble(
                    records[start : start + ASSEMBLY_SLICE],
                    self.intakes,
                    now=self.now,
                    future_bound=timedelta(seconds=self.settings.future_bound_s),
                    into=batch,
                )
                await asyncio.sleep(0)
            self._apply_invalid_ratio(batch)  # a feed turned bad: nothing more of it is fetched
        await self.drain()
        if batch is not None:
            self.writing = asyncio.create_task(
                self._write_and_commit(batch, self.batches, revocations)
            )

    async def drain(self) -> None:
        """Waits for the batch being written to be committed; its failure is the worker's."""
        if self.writing is not None:
            writing, self.writing = self.writing, None
            await writing

    async def _write_and_commit(self, batch: Batch, number: int, revocations: int) -> None:
        """One batch: dead-letter, write, commit."""
        async with self.in_flight:
            if self._polled_before_a_rebalance(revocations, batch, number):
                return
            await send_dead_letters(self.producer, self.settings.common.topics.dlq, batch.rejected)
            if not await self._write_until_done(batch, number, revocations):
                return
            self.after_write.reach()
            await self._commit(batch, number)
        _log_batch(number, batch)
        _count(batch)
        self._report_lag(batch)

    def _polled_before_a_rebalance(self, revocations: int, batch: Batch, number: int) -> bool:
        """Checked before every attempt to write: a batch polled before a rebalance is dropped.
        Its partitions may be another worker's now, replaying from the last commit, and a stale
        write landing after theirs would undo a correction. Nothing of it was committed, so
        whoever owns each partition now fetches these records again."""
        if revocations == self.revocations:
            return False
        log.info(
            "batch polled before a rebalance dropped; its records are fetched again",
            extra={"batch": number, "records": batch.records},
        )
        return True

    async def _write_until_done(self, batch: Batch, number: int, revocations: int) -> bool:
        """Writes the batch, retrying while the database is away; False when a rebalance came
        meanwhile and the batch was dropped (a revocation no longer waits out an outage)."""
        delay = 0.2
        while True:
            if self._polled_before_a_rebalance(revocations, batch, number):
                return False
            try:
                with metrics.WRITE_SECONDS.time():
                    async with self.pool.acquire() as connection:
                        await write_batch(
                            connection,
                            batch,
                            rollups=self.plain,
                            received_on=self.now().astimezone(UTC).date(),
                        )
            except DATABASE_UNAVAILABLE as error:
                # Away, or slow: a statement stuck behind a lock times out into this path too.
                metrics.DB_RETRIES.inc()
                log.warning(
                    "database unavailable or slow (%r); pausing, retry in %.1fs",
                    error,
                    delay,
                    extra={"batch": number, "records": batch.records},
                )
                # Paused, the consumer still polls (so it keeps its partitions) but fetches
                # nothing; the batch in hand is retried as it is, and nothing is committed.
                self.pause(self.consumer.assignment())
                async with self.polling:
                    fetched = await self.consumer.getmany(timeout_ms=int(delay * 1000))
                self._fetch_again(fetched)
                delay = min(delay * 2, self.settings.db_retry_max_s)
                continue
            self._resume_healthy_feeds()
            return True

    def _fetch_again(self, fetched: dict[TopicPartition, list[Any]]) -> None:
        """Records polled while paused: only a rebalance's new (unpaused) assignment gives any.
        They are not this batch's, so they are rewound to be polled again, never skipped."""
        for tp, records in fetched.items():
            if records:
                self.consumer.seek(tp, records[0].offset)

    def _resume_healthy_feeds(self) -> None:
        self.consumer.resume(*(tp for tp in self.consumer.paused() if not self.is_halted(tp.topic)))
        metrics.PAUSED_PARTITIONS.set(len(self.consumer.paused()))

    async def _commit(self, batch: Batch, number: int) -> None:
        offsets = {TopicPartition(t, p): offset for (t, p), offset in batch.offsets.items()}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError):
            # The partitions moved to another worker during the write (the group lost this
            # member, slow as it was): it replays this batch, and the idempotent upserts make
            # that replay change nothing.
            log.warning(
                "commit failed after a rebalance; %d records will be replayed",
                batch.records,
                extra={"batch": number, "records": batch.records},
            )
            return
        metrics.LAST_COMMIT.set_to_current_time()

    def _apply_invalid_ratio(self, batch: Batch) -> None:
        for record in batch.received:
            feed = record.feed
            if self.invalid_ratio.record(feed, record.invalid):
                log.error(
                    "FEED HALTED: %s: at least %.0f%% of its last %d records were invalid; "
                    "its records wait in Kafka. Fix the feed or its mapping (see "
                    "GET /v1/feeds/%s/rejections), then restart the worker.",
                    feed,
                    100 * self.settings.invalid_ratio_limit,
                    self.settings.invalid_ratio_window,
                    feed,
                    extra={"feed": feed, "batch": self.batches},
                )
                metrics.FEED_HALTED.labels(feed).set(1)
        self.pause(tp for tp in self.consumer.assignment() if self.is_halted(tp.topic))

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self.consumer.pause(*partitions)
        metrics.PAUSED_PARTITIONS.set(len(self.consumer.paused()))

    def is_halted(self, topic: str) -> bool:
        return self.intakes[topic].feed in self.invalid_ratio.halted

    def _report_lag(self, batch: Batch) -> None:
        assigned = self.consumer.assignment()
        for (topic, partition), next_offset in batch.offsets.items():
            tp = TopicPartition(topic, partition)
            if tp not in assigned:  # moved to another worker, which reports its lag now
                continue
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = max(highwater - next_offset, 0)
                metrics.CONSUMER_LAG.labels(topic, str(partition)).set(lag)

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: _Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Waits for the batch in flight to be written and committed before letting go.
        self.worker.revocations += 1
        async with self.worker.in_flight:
            pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        metrics.REBALANCES.inc()
        log.info("partitions assigned: %d", len(assigned))
        self.worker.pause(tp for tp in assigned if self.worker.is_halted(tp.topic))


class _Maintenance:
    """Plain mode's storage policy, run by the worker: partitions ahead, past retention dropped.
    (TimescaleDB mode runs its policies itself.)"""

    EVERY_S = 3600.0
    RETRY_S = 60.0
    AHEAD = timedelta(days=95)

    def __init__(self, pool: Any, now: Callable[[], datetime]) -> None:
        self.pool = pool
        self.now = now
        self.due = 0.0

    async def run_if_due(self) -> None:
        if time.monotonic() < self.due:
            return
        try:
            await self._run()
        except DATABASE_UNAVAILABLE as error:
            # Like a batch, maintenance waits for the database rather than crash the worker.
            log.warning("storage maintenance postponed: database unavailable (%r)", error)
            self.due = time.monotonic() + self.RETRY_S
            return
        self.due = time.monotonic() + self.EVERY_S

    async def _run(self) -> None:
        async with self.pool.acquire() as connection:
            retention_days = int(
                await connection.fetchval(
                    "SELECT value FROM storage_info WHERE key = 'retention_days'"
                )
            )
            summary = await connection.fetchval(
                "SELECT ioc_maintain($1, $2, $3)",
                self.now(),
                timedelta(days=retention_days),
                self.AHEAD,
            )
        log.info("storage maintenance: %s", summary)


def _count(batch: Batch) -> None:
    metrics.BATCH_RECORDS.observe(batch.records)
    for feed, count in batch.records_by_feed.items():
        metrics.RECORDS_IN.labels(feed).inc(count)
    for feed, count in Counter(row.observation.feed for row in batch.rows.values()).items():
        metrics.ROWS_WRITTEN.labels(feed).inc(count)
    for feed, count in Counter(rejected.feed for rejected in batch.rejected).items():
        metrics.RECORDS_REJECTED.labels(feed).inc(count)


def _log_batch(number: int, batch: Batch) -> None:
    """A debug line per batch; a warning per quarantined record, where an operator finds it
    (feed, topic, partition, offset, reason) without opening the quarantine table."""
    log.debug(
        "batch committed: %d records, %d rows",
        batch.records,
        len(batch.rows),
        extra={"batch": number, "records": batch.records, "rows": len(batch.rows)},
    )
    for rejected in batch.rejected:
        log.warning(
            "record quarantined: %s",
            rejected.reason,
            extra={
                "batch": number,
                "feed": rejected.feed,
                "topic": rejected.topic,
                "partition": rejected.partition,
                "offset": rejected.offset,
                "reason": rejected.reason,
            },
        )
