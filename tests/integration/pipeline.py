"""Helpers to drive the real pipeline from a test: produce raw records, run a worker."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from services.common.feeds import FeedDefinition
from services.common.kafka import KafkaConnection, admin_client, producing
from services.common.settings import CommonSettings
from services.ingest.settings import WorkerSettings
from services.ingest.worker import run_worker

# The examples of ../shared/feeds were recorded on 2026-11-25 (local time); the worker's clock in
# tests is pinned just after, so event-time bounds never depend on the day the suite runs.
TEST_NOW = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


async def produce(
    settings: CommonSettings,
    feed: str,
    values: Sequence[bytes],
    *,
    keys: Sequence[bytes] | None = None,
) -> None:
    """Produces to the feed's raw topic: by key when given, else all to partition 0, so the
    test knows the log order."""
    async with producing(settings.kafka) as producer:
        topic = settings.topics.raw(feed)
        deliveries = []
        for index, value in enumerate(values):
            if keys is None:
                deliveries.append(await producer.send(topic, value, partition=0))
            else:
                deliveries.append(await producer.send(topic, value, key=keys[index]))
        await asyncio.gather(*deliveries)  # each acknowledged, or the test fails here


def worker_settings(settings: CommonSettings, **overrides: Any) -> WorkerSettings:
    defaults = {
        "common": settings,
        "group_id": f"test-{uuid.uuid4().hex[:8]}",
        "metrics_port": 0,
        "batch_max_age_ms": 100,
        "db_retry_max_s": 1.0,
    }
    return replace(WorkerSettings.from_env({}), **{**defaults, **overrides})


@contextlib.asynccontextmanager
async def running_worker(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    *,
    now: Callable[[], datetime] = lambda: TEST_NOW,
    **overrides: Any,
) -> AsyncIterator[WorkerSettings]:
    """A worker in this event loop; on exit it drains, and any crash it had is raised."""
    stop = asyncio.Event()
    configured = worker_settings(settings, **overrides)
    task = asyncio.create_task(run_worker(configured, feeds.values(), stop, now=now))
    try:
        yield configured
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def eventually(check: Callable[[], Awaitable[bool]], *, within_s: float = 30.0) -> None:
    """Waits until ``check`` holds; fails after ``within_s`` seconds otherwise."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        await asyncio.sleep(0.2)


async def committed_records(worker: WorkerSettings, topic: str) -> int:
    """How many records of ``topic`` the worker's group has committed, all partitions summed."""
    admin = admin_client(worker.common.kafka)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(worker.group_id)
    except KafkaError as error:
        if error.retriable:  # a fresh broker is still electing the group coordinator
            return 0
        raise
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


async def read_topic(
    kafka: KafkaConnection, topic: str, count: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first ``count`` records of a topic, from the beginning."""
    consumer = AIOKafkaConsumer(topic, **kafka.client_options(), auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                polled = await consumer.getmany(timeout_ms=500)
                records.extend(r for batch in polled.values() for r in batch)
    finally:
        await consumer.stop()
    return records


async def topic_size(kafka: KafkaConnection, topic: str) -> int:
    """Every record the topic holds, all partitions summed (its end offsets)."""
    consumer = AIOKafkaConsumer(**kafka.client_options())
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # a consumer learns of topics lazily
        found = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in found])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def all_committed(worker: WorkerSettings, feed: str, records: int) -> bool:
    return await committed_records(worker, worker.common.topics.raw(feed)) == records


async def ingest_every_example(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    extra: dict[str, list[bytes]] | None = None,
) -> None:
    """Every example of every feed (and any ``extra`` records) through a real worker, until the
    worker has committed them all."""
    extra = extra or {}
    counts = {}
    for feed in feeds.values():
        records = [*feed.examples_path.read_bytes().splitlines(), *extra.get(feed.feed, [])]
        await produce(settings, feed.feed, records)
        counts[feed.feed] = len(records)
    async with running_worker(settings, feeds) as worker:
        for name, count in counts.items():
            await eventually(functools.partial(all_committed, worker, name, count))


class Ingest:
    """Produces records and waits for a worker on the real clock to commit all of them."""

    def __init__(self, settings: CommonSettings, feeds: dict[str, FeedDefinition]) -> None:
        self.settings, self.feeds = settings, feeds
        self.produced: Counter[str] = Counter()

    async def __call__(self, records: dict[str, list[bytes]]) -> None:
        for feed, values in records.items():
            await produce(self.settings, feed, values)
            self.produced[feed] += len(values)
        clock = functools.partial(datetime.now, UTC)
        async with running_worker(self.settings, self.feeds, now=clock) as worker:
            for feed in records:
                total = self.produced[feed]
                await eventually(functools.partial(all_committed, worker, feed, total))
