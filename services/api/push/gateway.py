"""The API's Kafka producer: started on first use (the API serves reads while the broker is
away), acks=all and idempotent, so a 202 means every broker in the ISR holds the messages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError


class BrokerUnavailable(Exception):
    """The broker did not acknowledge every message in time."""


class KafkaGateway:
    def __init__(self, bootstrap: str, *, timeout_s: float) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def send_all(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Sends (key, value) pairs; returns only once the broker acknowledged all of them."""
        producer = await self._started()
        try:
            async with asyncio.timeout(self.timeout_s):
                deliveries = [await producer.send(topic, value, key=key) for key, value in messages]
                await asyncio.gather(*deliveries)
        except (KafkaError, TimeoutError) as error:
            raise BrokerUnavailable(f"{error.__class__.__name__}") from error

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=int(self.timeout_s * 1000),
                    linger_ms=5,
                )
                try:
                    async with asyncio.timeout(self.timeout_s):
                        await producer.start()
                except (KafkaError, TimeoutError, OSError) as error:
                    await producer.stop()
                    raise BrokerUnavailable(f"{error.__class__.__name__}") from error
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
