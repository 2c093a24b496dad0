"""How the project's clients produce to Kafka: one home for the producer's configuration
(the push, the worker's dead letters, the replays, the simulator, the benches and tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer


def durable_producer(bootstrap: str, **tuning: Any) -> AIOKafkaProducer:
    """A producer whose acknowledgement means every in-sync replica holds the message
    (acks=all) and whose retries neither duplicate nor reorder it (idempotent). ``tuning``:
    timeouts and batching only."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **tuning
    )


@asynccontextmanager
async def producing(bootstrap: str, **tuning: Any) -> AsyncIterator[AIOKafkaProducer]:
    """A started ``durable_producer``, flushed and stopped on leaving."""
    producer = durable_producer(bootstrap, **tuning)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
