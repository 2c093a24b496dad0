"""Resources opened in the app's lifespan, handed to handlers as ``Annotated`` dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.access import presented_key
from services.api.errors import NotFound, Unauthorized
from services.api.indicators.board import IndicatorBoard
from services.api.indicators.definitions import IndicatorDefinition
from services.api.key_usage import KeyUsage
from services.api.principals import PrincipalCache
from services.api.public_reads import PublicReads
from services.api.push.gateway import KafkaGateway
from services.api.push.rate_limit import RateLimiter
from services.api.reminders.evaluator import Reminding
from services.api.settings import ApiSettings
from services.api.sta.entities import EntityType
from services.api.stream.holds import StreamHolds
from services.api.uploads.slots import UploadSlots
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake
from services.common.keys import Principal, find_principal_by_hash, hash_key
from services.common.units import Units


@dataclass(frozen=True, slots=True)
class AppState:
    settings: ApiSettings
    pool: Any
    feeds: dict[str, FeedDefinition]
    intakes: dict[str, FeedIntake]  # by feed name
    gateway: KafkaGateway
    rate_limiter: RateLimiter
    indicators: dict[str, IndicatorDefinition]
    clock: Callable[[], datetime]
    board: IndicatorBoard
    principals: PrincipalCache
    key_usage: KeyUsage  # when keys were last used; refused keys logged by prefix
    sensorthings: dict[str, EntityType]  # by entity set
    units: Units  # departments and communes/wards (schemas/units/)
    reminding: Reminding  # the units again, reminder rules, delivery settings
    stream_holds: StreamHolds  # the streams each key holds open
    public_reads: PublicReads  # the share of the pool reads without a key may hold
    upload_slots: UploadSlots  # the uploads this process serves at once


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ioc
    return state


State = Annotated[AppState, Depends(_state)]


async def _connection(state: State) -> AsyncIterator[Any]:
    async with state.pool.acquire() as connection:
        yield connection


Connection = Annotated[Any, Depends(_connection)]

_bearer = HTTPBearer(auto_error=False, description="An IOC API key: `Authorization: Bearer <key>`")


async def _principal(
    request: Request,
    state: State,
    scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # ``scheme`` puts the bearer scheme in the OpenAPI; the header is read by the one rule both
    # request paths share.
    principal = await _presented(request, state)
    if principal is None:
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    return principal


async def _optional_principal(
    request: Request,
    state: State,
    scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller where a key is presented (a wrong key is still refused), else None."""
    return await _presented(request, state)


async def _presented(request: Request, state: AppState) -> Principal | None:
    key = presented_key(request.headers.get("authorization", ""))
    if key is None:
        return None
    key_hash = hash_key(key)
    principal = state.principals.get(key_hash)
    if principal is None:
        async with state.pool.acquire() as connection:
            principal = await find_principal_by_hash(connection, key_hash)
        if principal is None:
            state.key_usage.refused(key, "unknown or revoked")
            raise Unauthorized("unknown or revoked API key")
        state.principals.put(key_hash, principal)
    state.key_usage.used(principal.key_id)
    return principal


Caller = Annotated[Principal, Depends(_principal)]
OptionalCaller = Annotated[Principal | None, Depends(_optional_principal)]


@asynccontextmanager
async def read_connection(state: AppState, caller: Principal | None) -> AsyncIterator[Any]:
    """A keyed caller's connection from the pool; a keyless one's from the public share (a 503
    where none is free in time). Taken by a handler once the request has parsed."""
    if caller is not None:
        async with state.pool.acquire() as connection:
            yield connection
        return
    async with state.public_reads.connection(state.pool) as connection:
        yield connection


def _feed(state: State, feed: str) -> FeedDefinition:
    definition = state.feeds.get(feed)
    if definition is None:
        raise NotFound(f"unknown feed {feed!r}; known feeds: {', '.join(sorted(state.feeds))}")
    return definition


Feed = Annotated[FeedDefinition, Depends(_feed)]
