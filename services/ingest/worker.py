"""The ingest worker: poll, assemble (decode, normalise, admit), dead-letter, write, commit, in
that order.

Offsets are committed only after the batch's transaction has committed, so a crash at any point
replays at most the last batch, and the idempotent writes make the replay change nothing.
Failures have one fate each: a bad record is quarantined; an unavailable database pauses the
partitions and retries the same batch; anything else crashes the worker for its supervisor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from services.common.db import DATABASE_UNAVAILABLE, create_pool, storage_mode
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake
from services.common.kafka import durable_producer
from services.common.systemd import notify
from services.common.topics import Topics
from services.ingest import metrics
from services.ingest.batch import Batch, assemble
from services.ingest.dead_letter import send_dead_letters
from services.ingest.failpoints import Failpoint
from services.ingest.invalid_ratio import InvalidRatioLimit
from services.ingest.partitions import Partitions
from services.ingest.rebalances import Rebalances
from services.ingest.report import report_committed
from services.ingest.settings import WorkerSettings
from services.ingest.storage_modes import StoreDuties, duties_of
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
    async with pool.acquire() as connection:
        mode = await storage_mode(connection)
    if mode is None:
        await pool.close()
        raise RuntimeError("the store is not migrated: run `ioc migrate` first")
    consumer = AIOKafkaConsumer(
        **settings.common.kafka.client_options(),
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.batch_max_records,
    )
    producer = durable_producer(settings.common.kafka)
    worker = _Worker(settings, intakes, pool, consumer, producer, now, duties_of(mode, pool, now))
    consumer.subscribe(list(intakes), listener=worker.rebalances.listener())
    try:
        await producer.start()  # inside: a broker that refuses leaves nothing open behind it
        await consumer.start()
        log.info("worker started: %d feeds, group %s", len(intakes), settings.group_id)
        notify("READY=1", f"STATUS=consuming {len(intakes)} feeds")
        while not stop.is_set():
            await worker.store.maintain_if_due()
            await worker.step()
        notify("STOPPING=1", "STATUS=draining the batch in hand")
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
        store: StoreDuties,
    ) -> None:
        self.settings = settings
        self.intakes = intakes
        self.pool = pool
        self.consumer = consumer
        self.producer = producer
        self.now = now
        self.store = store
        self.partitions = Partitions(
            consumer,
            intakes,
            InvalidRatioLimit(settings.invalid_ratio_limit, settings.invalid_ratio_window),
        )
        self.rebalances = Rebalances(on_assigned=self.partitions.pause_halted)
        # The batch being written while the next one is polled and assembled.
        self.writing: asyncio.Task[Batch | None] | None = None
        self.batches = 0
        self.after_write = Failpoint("after-write")  # the fault tests' kill between commits

    async def step(self) -> None:
        """Polls and assembles the next batch while the previous one is written: this process's
        Python and PostgreSQL work side by side. Writes and commits stay one at a time, in order.
        """
        revocations = self.rebalances.revocations  # before the poll: one during it counts
        records = await self.partitions.poll(
            self.settings.batch_max_age_ms, self.settings.batch_max_records
        )
        batch = await self._assemble(records) if records else None
        dropped = await self.drain()
        if dropped is not None:
            # This consumer's positions are past the dropped batch, and past the one polled
            # meanwhile: neither may be skipped, so both are fetched again where the
            # partitions are still this worker's (committing the second would lose the first).
            await self.partitions.rewind([dropped] if batch is None else [dropped, batch])
            return
        if batch is not None:
            self.partitions.halt_invalid_feeds(batch)  # a feed turned bad: no more is fetched
            self.writing = asyncio.create_task(self._write_and_commit(batch, revocations))

    async def drain(self) -> Batch | None:
        """Waits for the batch being written to be committed; its failure is the worker's.
        Returns the batch where it was dropped unwritten (polled before a rebalance)."""
        if self.writing is None:
            return None
        writing, self.writing = self.writing, None
        return await writing

    async def _assemble(self, records: list[Any]) -> Batch:
        """Decode, normalise and admit, in slices, yielding between them: the batch being
        written sends its statements meanwhile instead of waiting for the whole assembly."""
        self.batches += 1
        batch = Batch(number=self.batches)
        for start in range(0, len(records), ASSEMBLY_SLICE):
            assemble(
                records[start : start + ASSEMBLY_SLICE],
                self.intakes,
                now=self.now,
                future_bound=self.settings.common.future_bound,
                into=batch,
            )
            await asyncio.sleep(0)
        return batch

    async def _write_and_commit(self, batch: Batch, revocations: int) -> Batch | None:
        """One batch: dead-letter, write, commit. Returns the batch where it was dropped."""
        async with self.rebalances.in_flight:
            if self.rebalances.polled_before_one(revocations, batch):
                return batch
            await send_dead_letters(
                self.producer, self.settings.common.topics.dlq, batch.quarantined
            )
            if not await self._write_until_done(batch, revocations):
                return batch
            self.after_write.reach()
            await self._commit(batch)
        report_committed(batch)
        self.partitions.report_lag(batch)
        return None

    async def _write_until_done(self, batch: Batch, revocations: int) -> bool:
        """Writes the batch, retrying while the database is away; False when a rebalance came
        meanwhile and the batch was dropped (a revocation no longer waits out an outage)."""
        delay = 0.2
        while not self.rebalances.polled_before_one(revocations, batch):
            try:
                with metrics.WRITE_SECONDS.time():
                    async with self.pool.acquire() as connection:
                        await write_batch(
                            connection,
                            batch,
                            rollups=self.store.keeps_rollups,
                            received_at=self.now(),
                        )
            except DATABASE_UNAVAILABLE as error:
                # Away, or slow: a statement stuck behind a lock times out into this path too.
                metrics.DB_RETRIES.inc()
                log.warning(
                    "database unavailable or slow (%r); pausing, retry in %.1fs",
                    error,
                    delay,
                    extra={"batch": batch.number, "records": batch.records},
                )
                await self.partitions.wait_paused(delay)
                delay = min(delay * 2, self.settings.db_retry_max_s)
                continue
            self.partitions.resume_healthy_feeds()
            return True
        return False

    async def _commit(self, batch: Batch) -> None:
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
                extra={"batch": batch.number, "records": batch.records},
            )
            return
        metrics.LAST_COMMIT.set_to_current_time()
