"""The API's Kafka producer: started on first use (the API serves reads while the broker is
away), acks=all and idempotent, so a 202 means every broker in the ISR holds the messages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.common.kafka import KafkaConnection, durable_producer


class BrokerUnavailable(Exception):
    """The broker did not acknowledge every message in time."""


class KafkaGateway:
    def __init__(self, kafka: KafkaConnection, *, timeout_s: float) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()

    async def send_all(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        timeout_s: float | None = None,
    ) -> None:
        """Sends (key, value) pairs, each with ``headers``; returns only once the broker
        acknowledged all of them, within ``timeout_s`` (the gateway's own timeout unless given:
        a large upload's due).

        On failure, whatever the producer still holds is dropped before the caller hears
        "not accepted", so no message of a refused request reaches the broker later. So it is
        when the caller is cancelled (its task cancelled, the server stopping): nothing more is
        sent, but what the producer already handed to the broker may still be on the topic.
        """
        producer = await self._started()
        try:
            async with asyncio.timeout(timeout_s or self.timeout_s):
                deliveries = [
                    await producer.send(topic, value, key=key, headers=list(headers) or None)
                    for key, value in messages
                ]
                await asyncio.gather(*deliveries)
        except (KafkaError, TimeoutError) as error:
            await self._abandon(producer)
            raise BrokerUnavailable(error.__class__.__name__) from error
        except asyncio.CancelledError:
            # Shielded: a second cancellation must not leave the buffer half dropped. The
            # requests sharing the producer hear "not accepted" (a 503) for what it held.
            await asyncio.shield(self._abandon(producer))
            raise

    async def _abandon(self, producer: AIOKafkaProducer) -> None:
        """Drops the producer and every record it still holds. aiokafka retries a batch for a
        known but unreachable leader without end and has no public way to drop it, so this
        reaches into it (aiokafka is pinned): stop the sender first, so nothing more is sent,
        then fail what is buffered. That is what makes "503: nothing accepted" true."""
        if self._producer is producer:
            self._producer = None
        await producer._sender.close()
        producer._message_accumulator.fail_all(BrokerUnavailable("request abandoned"))
        await producer.stop()

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                producer = durable_producer(
                    self.kafka, request_timeout_ms=int(self.timeout_s * 1000), linger_ms=5
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
