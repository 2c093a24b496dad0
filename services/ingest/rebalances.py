"""The group's rebalances as the worker sees them: a revocation waits for the batch in flight to
be committed, and a batch polled before a rebalance is never written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import ConsumerRebalanceListener, TopicPartition

from services.ingest import metrics
from services.ingest.batch import Batch

log = logging.getLogger("ioc.ingest")


class Rebalances:
    def __init__(self, on_assigned: Callable[[list[TopicPartition]], None]) -> None:
        self.revocations = 0
        # Held from a batch's first write to its commit: a revocation waits for it.
        self.in_flight = asyncio.Lock()
        self.on_assigned = on_assigned

    def polled_before_one(self, revocations: int, batch: Batch) -> bool:
        """Checked before every attempt to write ``batch``, polled when ``revocations`` had
        been counted: a batch polled before a rebalance is dropped. Its partitions may be
        another worker's now, replaying from the last commit, and a stale write landing after
        theirs would undo a correction. Nothing of it was committed: whoever owns each partition
        now fetches these records again (this worker too, rewound: ``Partitions.rewind``)."""
        if revocations == self.revocations:
            return False
        log.info(
            "batch polled before a rebalance dropped; its records are fetched again",
            extra={"batch": batch.number, "records": batch.records},
        )
        return True

    def listener(self) -> ConsumerRebalanceListener:
        return _Listener(self)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, rebalances: Rebalances) -> None:
        self.rebalances = rebalances

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.rebalances.revocations += 1
        async with self.rebalances.in_flight:  # the batch in flight is committed first
            pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        metrics.REBALANCES.inc()
        log.info("partitions assigned: %d", len(assigned))
        self.rebalances.on_assigned(assigned)
