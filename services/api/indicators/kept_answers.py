"""The wall's polls answered from the board without the framework: the hot path.

A wall display asks for the same answer every couple of seconds and nearly always gets a 304.
This ASGI middleware answers the common case itself: a GET of ``/v1/indicators`` or
``/v1/indicators/{id}``, no query but ``lang=vi|en``, with a key found in the last seconds (the
API's key cache), for an answer the board keeps. Anything else (no key, a key not yet found,
another parameter, an unknown id, a board not yet filled) goes on to the endpoints, which
answer it in full and remember the key, so the next poll takes this path. Who may read, and
when a 304 is due, are the endpoints' own rules (``access``, ``caching.reply_to``).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.access import key_hash_of, may_read_indicators
from services.api.caching import Rendered, reply_to
from services.api.dependencies import AppState
from services.api.indicators.endpoints import LIST_PATH, ONE_PATH

ONE_PREFIX = ONE_PATH.removesuffix("{indicator_id}")
LANGUAGES = {b"": "vi", b"lang=vi": "vi", b"lang=en": "en"}


@dataclass(frozen=True, slots=True)
class _Route:
    """What the request metrics label this request with: the endpoint's own template."""

    path: str


LIST_ROUTE = _Route(LIST_PATH)
ONE_ROUTE = _Route(ONE_PATH)


class KeptAnswers:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _kept(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        reply = reply_to(_header(scope, b"if-none-match").decode("latin-1"), answer)
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        )
        await send({"type": "http.response.body", "body": reply.body})


def _kept(scope: Scope) -> Rendered | None:
    state: AppState | None = getattr(scope["app"].state, "ioc", None)
    lang = LANGUAGES.get(scope["query_string"])
    if state is None or lang is None:
        return None
    key_hash = key_hash_of(_header(scope, b"authorization").decode("latin-1"))
    caller = None if key_hash is None else state.principals.get(key_hash)
    if caller is None or not may_read_indicators(caller):
        return None
    state.key_usage.used(caller.key_id)
    path: str = scope["path"]
    if path == LIST_PATH:
        scope["route"] = LIST_ROUTE
        return state.board.all(lang)
    indicator_id = path.removeprefix(ONE_PREFIX)
    if indicator_id != path and "/" not in indicator_id:
        scope["route"] = ONE_ROUTE
        return state.board.one(indicator_id, lang)
    return None


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""
