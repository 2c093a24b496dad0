"""``/v1/stream``: server-sent events each time an indicator's answer changes.

On connect every indicator is sent once; then an ``indicator`` event for each change (the
same JSON as ``GET /v1/indicators/{id}``, its ETag as the event id), and a comment every
``HEARTBEAT_S`` so proxies and the wall see the connection alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from services.api.dependencies import Caller, State
from services.api.indicators.board import RESYNC, IndicatorBoard
from services.api.schemas import error_responses

router = APIRouter(tags=["indicators"], responses=error_responses(401))
HEARTBEAT_S = 15.0
Language = Annotated[Literal["vi", "en"], Query(description="Title language")]


@router.get(
    "/v1/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream"}},
)
async def stream(caller: Caller, state: State, lang: Language = "vi") -> StreamingResponse:
    """Server-sent events (`event: indicator`) when indicators change; every indicator on
    connect. Send the key in the Authorization header (read the stream with fetch)."""
    return StreamingResponse(
        _events(state.board, list(state.indicators), lang),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(board: IndicatorBoard, every: list[str], lang: str) -> AsyncIterator[bytes]:
    async with board.subscription() as changes:
        if board.all(lang) is None:
            await board.refresh()  # just started: the first answers now
        # What was announced so far is in the answers about to be sent: sent once, not twice
        # (a refresh that ran while this one waited would otherwise repeat every indicator).
        while not changes.empty():
            changes.get_nowait()
        for event in _rendered(board, every, lang):
            yield event
        while True:
            try:
                changed = await asyncio.wait_for(changes.get(), timeout=HEARTBEAT_S)
            except TimeoutError:
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
