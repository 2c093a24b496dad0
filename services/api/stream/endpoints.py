"""``/v1/stream``: server-sent events each time an indicator's answer changes.

On connect every indicator is sent once; then an ``indicator`` event for each change (the
same JSON as ``GET /v1/indicators/{id}``, its ETag as the event id), and a comment every
``HEARTBEAT_S`` so proxies and the wall see the connection alive.

A key holds at most ``IOC_STREAM_MAX_PER_KEY`` streams open (429 beyond), and an open stream
asks the store every ``IOC_STREAM_KEY_CHECK_S`` whether its key still stands: once revoked, the
stream sends a ``revoked`` event and ends. A check the store cannot answer (it is away) is asked
again at the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.api.dependencies import Caller, State
from services.api.indicators.board import RESYNC, IndicatorBoard
from services.api.schemas import error_responses
from services.common.db import DATABASE_UNAVAILABLE
from services.common.keys import key_is_live

router = APIRouter(tags=["indicators"], responses=error_responses(401))
HEARTBEAT_S = 15.0
REVOKED = b'event: revoked\ndata: {"error": "unauthorized", "detail": "the key was revoked"}\n\n'
Language = Annotated[Literal["vi", "en"], Query(description="Title language")]


class _HeldStream(StreamingResponse):
    """A stream that lets its key's hold go however it ends: finished, its reader gone, or
    cancelled before its first event."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get(
    "/v1/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "An event stream"},
        **error_responses(429),
    },
)
async def stream(caller: Caller, state: State, lang: Language = "vi") -> StreamingResponse:
    """Server-sent events (`event: indicator`) when indicators change; every indicator on
    connect. Send the key in the Authorization header (read the stream with fetch). A key
    holds a few streams at most (429 beyond, with Retry-After); a stream whose key is revoked
    sends `event: revoked` and ends within `IOC_STREAM_KEY_CHECK_S`."""
    release = state.stream_holds.hold(caller.key_id)
    try:
        standing = KeyCheck(state.pool, caller.key_id, state.settings.stream_key_check_s)
        return _HeldStream(_events(state.board, list(state.indicators), lang, standing), release)
    except BaseException:
        release()
        raise


class KeyCheck:
    """Asks the store, every ``every_s``, whether the stream's key still stands."""

    def __init__(self, pool: Any, key_id: int, every_s: float) -> None:
        self.pool, self.key_id, self.every_s = pool, key_id, every_s
        self.due = asyncio.get_running_loop().time() + every_s

    def wait_s(self) -> float:
        return max(0.0, self.due - asyncio.get_running_loop().time())

    async def revoked(self) -> bool:
        """Whether the key was revoked, where a check is due; False until then."""
        if self.wait_s() > 0:
            return False
        self.due = asyncio.get_running_loop().time() + self.every_s
        try:
            async with self.pool.acquire(timeout=self.every_s) as connection:
                return not await key_is_live(connection, self.key_id)
        except DATABASE_UNAVAILABLE:
            return False  # asked again at the next check


async def _events(
    board: IndicatorBoard, every: list[str], lang: str, key: KeyCheck
) -> AsyncIterator[bytes]:
    async with board.subscription() as changes:
        if board.all(lang) is None:
            await board.refresh()  # just started: the first answers now
        # What was announced so far is in the answers about to be sent: sent once, not twice
        # (a refresh that ran while this one waited would otherwise repeat every indicator).
        while not changes.empty():
            changes.get_nowait()
        for event in _rendered(board, every, lang):
            yield event
        loop = asyncio.get_running_loop()
        heartbeat = loop.time() + HEARTBEAT_S
        while True:
            try:
                wait_s = min(max(0.0, heartbeat - loop.time()), key.wait_s())
                changed = await asyncio.wait_for(changes.get(), timeout=wait_s)
            except TimeoutError:
                if await key.revoked():
                    yield REVOKED
                    return
                if loop.time() >= heartbeat:
                    heartbeat = loop.time() + HEARTBEAT_S
                    yield b": alive\n\n"
                continue
            for event in _rendered(board, every if changed == RESYNC else [changed], lang):
                yield event


def _rendered(board: IndicatorBoard, ids: Iterable[str], lang: str) -> Iterable[bytes]:
    for indicator_id in ids:
        answer = board.one(indicator_id, lang)
        if answer is not None:
            yield (
                b"event: indicator\nid: "
                + answer.etag.encode()
                + b"\ndata: "
                + answer.body
                + b"\n\n"
            )
