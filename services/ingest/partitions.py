"""The consumer's partitions as the worker drives them: polled one poll at a time, paused while
the database is away or a feed is halted, rewound where a poll fetched what it should not have,
and their lag reported."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.intake.feed_intake import FeedIntake
from services.ingest import metrics
from services.ingest.batch import Batch
from services.ingest.invalid_ratio import InvalidRatioLimit

log = logging.getLogger("ioc.ingest")


class Partitions:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        intakes: dict[str, FeedIntake],
        invalid_ratio: InvalidRatioLimit,
    ) -> None:
        self.consumer = consumer
        self.intakes = intakes
        self.invalid_ratio = invalid_ratio
        # The next batch is polled while a write waits out an outage with polls of its own
        # (to stay in the group): one poll at a time.
        self._polling = asyncio.Lock()

    async def poll(self, timeout_ms: int, max_records: int) -> list[Any]:
        async with self._polling:
            polled = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [record for records in polled.values() for record in records]

    async def wait_paused(self, seconds: float) -> None:
        """Waits ``seconds`` with every partition paused: the consumer still polls, so it keeps
        its partitions, but fetches nothing; the batch in hand is retried as it is.

        Never longer, whatever the consumer does: once a rebalance has begun, aiokafka's poll
        waits for the new assignment, which waits for the revocation, which waits for the batch
        whose retry this is (a deadlock until the group expelled this worker: a flaky fault
        test). Cut short, the retry loop sees the revocation and drops the batch."""
        self.pause(self.consumer.assignment())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async with self._polling:
                    fetched = await self.consumer.getmany(timeout_ms=int(seconds * 1000))
                self._fetch_again(fetched)

    def _fetch_again(self, fetched: dict[TopicPartition, list[Any]]) -> None:
        """Records polled while paused: only a rebalance's new (unpaused) assignment gives any.
        They are not the batch's in hand, so they are rewound to be polled again, never
        skipped."""
        for tp, records in fetched.items():
            if records:
                self.consumer.seek(tp, records[0].offset)

    async def rewind(self, dropped: Iterable[Batch]) -> None:
        """Seeks back to the first record of batches dropped unwritten, on every partition still
        this consumer's, so that it fetches them again. Never forward: a rebalance may have
        reset a partition to its committed offset, before them."""
        first: dict[TopicPartition, int] = {}
        for batch in dropped:
            for record in batch.received:
                tp = TopicPartition(record.topic, record.partition)
                first[tp] = min(first.get(tp, record.offset), record.offset)
        assigned = self.consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned and offset < await self.consumer.position(tp):
                self.consumer.seek(tp, offset)

    def resume_healthy_feeds(self) -> None:
        self.consumer.resume(*(tp for tp in self.consumer.paused() if not self.is_halted(tp.topic)))
        metrics.PAUSED_PARTITIONS.set(len(self.consumer.paused()))

    def halt_invalid_feeds(self, batch: Batch) -> None:
        """Counts the batch's records against the invalid-ratio limit; a feed that crosses it
        is halted: nothing more of it is fetched."""
        for record in batch.received:
            feed = record.feed
            if self.invalid_ratio.record(feed, record.invalid):
                log.error(
                    "FEED HALTED: %s: at least %.0f%% of its last %d records were invalid; "
                    "its records wait in Kafka. Fix the feed or its mapping (see "
                    "GET /v1/feeds/%s/rejections), then restart the worker.",
                    feed,
                    100 * self.invalid_ratio.limit,
                    self.invalid_ratio.window,
                    feed,
                    extra={"feed": feed, "batch": batch.number},
                )
                metrics.FEED_HALTED.labels(feed).set(1)
        self.pause_halted(self.consumer.assignment())

    def pause_halted(self, partitions: Iterable[TopicPartition]) -> None:
        self.pause(tp for tp in partitions if self.is_halted(tp.topic))

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self.consumer.pause(*partitions)
        metrics.PAUSED_PARTITIONS.set(len(self.consumer.paused()))

    def is_halted(self, topic: str) -> bool:
        return self.intakes[topic].feed in self.invalid_ratio.halted

    def report_lag(self, batch: Batch) -> None:
        assigned = self.consumer.assignment()
        for (topic, partition), next_offset in batch.offsets.items():
            tp = TopicPartition(topic, partition)
            if tp not in assigned:  # moved to another worker, which reports its lag now
                continue
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = max(highwater - next_offset, 0)
                metrics.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
