"""A batch dropped unwritten after a rebalance is fetched again, never skipped: where its
partitions are still this worker's, the consumer is rewound to its first records, and the batch
polled meanwhile (past it) is dropped too. Found by a fresh-clone CI run that lost exactly one
batch of 2,000 records while a second worker joined and left mid-stream."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.topics import Topics
from services.ingest.batch import Batch, Received
from services.ingest.invalid_ratio import InvalidRatioLimit
from services.ingest.partitions import Partitions
from services.ingest.settings import WorkerSettings
from services.ingest.storage_modes import TimescaleDBDuties
from services.ingest.worker import _Worker, feed_intakes

TOPIC = "ioc.raw.salinity"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def _reading(offset: int) -> bytes:
    return json.dumps(
        {
            "ma_tram": f"S{offset}",
            "thoi_gian": "25/11/2026 06:00",
            "do_man_phan_nghin": "1,0",
            "muc_nuoc_cm": 100,
            "xa_phuong_ma": "32150",
        }
    ).encode()


@dataclass
class FakeConsumer:
    """A consumer of partitions 0 and 1 whose polls return the next records of a script."""

    polls: list[list[Record]]
    assigned: set[TopicPartition] = field(default_factory=lambda: {P0, P1})
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    commits: list[Any] = field(default_factory=list)

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        records = self.polls.pop(0) if self.polls else []
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self.positions[tp] = record.offset + 1
        by_partition: dict[TopicPartition, list[Record]] = {}
        for record in records:
            by_partition.setdefault(TopicPartition(record.topic, record.partition), []).append(
                record
            )
        return by_partition

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def paused(self) -> set[TopicPartition]:
        return set()

    async def commit(self, offsets: Any) -> None:
        self.commits.append(offsets)


class RebalancingConsumer(FakeConsumer):
    """A consumer mid-rebalance: aiokafka's poll waits for the new assignment, however short
    its timeout, and the assignment waits for the revocation to return."""

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> Any:
        await asyncio.Event().wait()  # the assignment never comes while the batch is held


def _records(partition: int, first: int, count: int) -> list[Record]:
    return [Record(TOPIC, partition, o, _reading(o)) for o in range(first, first + count)]


def _worker(feeds: dict[str, FeedDefinition], consumer: FakeConsumer) -> _Worker:
    settings = replace(
        WorkerSettings.from_env({}), common=replace(CommonSettings.from_env({}), topics=Topics())
    )
    return _Worker(
        settings,
        feed_intakes(feeds.values(), Topics()),
        pool=None,
        consumer=consumer,
        producer=None,
        now=lambda: datetime(2026, 11, 25, 1, tzinfo=UTC),
        store=TimescaleDBDuties(),
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_a_dropped_batch_and_the_one_polled_meanwhile_are_fetched_again(
    feeds: dict[str, FeedDefinition],
) -> None:
    first = _records(0, 100, 3) + _records(1, 50, 2)
    meanwhile = _records(0, 103, 2)
    consumer = FakeConsumer(polls=[first, meanwhile])
    worker = _worker(feeds, consumer)
    await worker.step()  # polls the first batch; its write waits to start
    worker.rebalances.revocations += 1  # a rebalance before the write: the batch is stale
    await worker.step()  # polls the next batch, then learns the first was dropped
    await worker.drain()

    assert sorted(consumer.seeks) == [(P0, 100), (P1, 50)]
    assert consumer.commits == []  # nothing of either batch was committed
    assert worker.writing is None  # and the batch polled meanwhile was not handed to a write


@pytest.mark.asyncio(loop_scope="session")
async def test_the_rewind_spares_partitions_gone_elsewhere_and_never_moves_forward() -> None:
    consumer = FakeConsumer(polls=[], assigned={P0, P1})
    consumer.positions = {P0: 120, P1: 40}  # P1 reset by a rebalance to its committed offset
    partitions = Partitions(consumer, {}, InvalidRatioLimit(0.9, 100))
    dropped = Batch(
        received=[
            Received("salinity", TOPIC, 0, 110, False),
            Received("salinity", TOPIC, 0, 105, True),
            Received("salinity", TOPIC, 1, 60, False),
            Received("salinity", TOPIC, 2, 7, False),  # partition 2 is another worker's now
        ]
    )
    await partitions.rewind([dropped])
    assert consumer.seeks == [(P0, 105)]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_paused_retry_wait_ends_on_time_while_a_rebalance_holds_the_poll() -> None:
    # The retry loop of a batch held through a database outage checks for a revocation between
    # waits; a wait that waited for the rebalance's assignment, which waits for the revocation,
    # which waits for that batch, never came back (the fault test's group never settled).
    consumer = RebalancingConsumer(polls=[])
    partitions = Partitions(consumer, {}, InvalidRatioLimit(0.9, 100))
    await asyncio.wait_for(partitions.wait_paused(0.05), timeout=5)
