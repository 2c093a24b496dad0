"""The stream's events from a board, without a store: every indicator once on connect, then
each change, even where another refresh announced changes while the stream's first one ran."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from services.api.caching import Rendered
from services.api.stream.endpoints import REVOKED, _events

IDS = ["air.aqi_max", "salinity.max_ppt"]


class Board:
    """The part of IndicatorBoard the stream uses. Its first refresh announces every indicator
    twice, as the cadence refresh and a stream's own refresh do when they meet at start-up."""

    def __init__(self) -> None:
        self.answers: dict[str, Rendered] = {}
        self.subscribers: set[asyncio.Queue[str]] = set()

    def all(self, lang: str) -> Rendered | None:
        return Rendered(b"[]", '"all"') if self.answers else None

    def one(self, indicator_id: str, lang: str) -> Rendered | None:
        return self.answers.get(indicator_id)

    async def refresh(self) -> None:
        for round_ in range(2):
            for id_ in IDS:
                self.announce(id_, f"{id_} {round_}")

    def announce(self, indicator_id: str, value: str) -> None:
        self.answers[indicator_id] = Rendered(value.encode(), f'"{value}"')
        for queue in self.subscribers:
            queue.put_nowait(indicator_id)

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.subscribers.add(queue)
        try:
            yield queue
        finally:
            self.subscribers.discard(queue)


class StandingKey:
    """The part of KeyCheck the stream uses: a key that stands, or is revoked at the next check."""

    def __init__(self, *, revoked: bool = False) -> None:
        self.answer = revoked
        self.checks = 0

    def wait_s(self) -> float:
        return 0.05

    async def revoked(self) -> bool:
        self.checks += 1
        return self.answer


@pytest.mark.asyncio
async def test_each_indicator_is_sent_once_on_connect_then_each_change() -> None:
    board, sent = Board(), []

    async def listen() -> None:
        events = _events(board, IDS, "vi", StandingKey())  # type: ignore[arg-type]  # stand-ins
        async for event in events:
            sent.append(event.split(b"\ndata: ")[1].strip())

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    assert sent == [b"air.aqi_max 1", b"salinity.max_ppt 1"]  # once each, nothing repeated
    board.announce("salinity.max_ppt", "salinity.max_ppt 2")
    await asyncio.sleep(0.1)
    assert sent[2:] == [b"salinity.max_ppt 2"]
    listening.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listening


@pytest.mark.asyncio
async def test_a_stream_whose_key_is_revoked_says_so_and_ends() -> None:
    board = Board()
    key = StandingKey()
    sent = []
    events = _events(board, IDS, "vi", key)  # type: ignore[arg-type]  # stand-ins
    sent += [await anext(events), await anext(events)]
    key.answer = True
    async with asyncio.timeout(5):  # a guard against a stream that never ends, not a measure
        sent += [event async for event in events]
    assert sent[-1] == REVOKED
    assert key.checks >= 1
