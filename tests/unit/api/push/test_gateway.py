"""The gateway when its caller is cancelled, against a producer whose broker never answers."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from services.api.push.gateway import KafkaGateway


class _SilentBroker:
    """A producer's few parts the gateway uses; every record stays buffered, unacknowledged."""

    def __init__(self, watched: int) -> None:
        self.watched = watched
        self.reached = asyncio.Event()  # set as the ``watched``-th record is handed over
        self.sent: list[bytes | None] = []
        self.buffered: list[asyncio.Future[None]] = []
        self.sender_closed = False
        self.stopped = False
        self._sender = self
        self._message_accumulator = self

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[None]:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append(key)
        self.buffered.append(delivery)
        if len(self.sent) == self.watched:
            self.reached.set()
        await asyncio.sleep(0)  # a real producer waits here when its buffer is full
        return delivery

    async def close(self) -> None:
        self.sender_closed = True

    def fail_all(self, exception: BaseException) -> None:
        for delivery in self.buffered:
            if not delivery.done():
                delivery.set_exception(exception)

    async def stop(self) -> None:
        self.stopped = True


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("cancelled_after", "steps"), [(10, 0), (100, 1)], ids=["while sending", "awaiting acks"]
)
async def test_a_cancelled_send_hands_over_nothing_more_and_drops_what_is_buffered(
    cancelled_after: int, steps: int
) -> None:
    gateway = KafkaGateway(cast(Any, None), timeout_s=60)
    broker = _SilentBroker(watched=cancelled_after)
    gateway._producer = cast(Any, broker)
    records = [(b"%d" % number, b"{}") for number in range(100)]
    sending = asyncio.create_task(gateway.send_all("ioc.raw.x", records))
    await broker.reached.wait()
    for _ in range(steps):
        await asyncio.sleep(0)  # from its last send on to awaiting the acknowledgements
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert len(broker.sent) == cancelled_after  # nothing more handed to the producer
    assert all(delivery.done() for delivery in broker.buffered)  # what it held, dropped
    assert broker.sender_closed
    assert broker.stopped
    assert gateway._producer is None  # the next request starts a new producer
