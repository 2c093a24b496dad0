from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import JSONResponse

from services.api.dependencies import AppState, Caller, Feed, State
from services.api.errors import ApiError, Forbidden, Unavailable
from services.api.push import idempotency
from services.api.push.body import (
    PayloadTooLarge,
    RequestTimeout,
    Unprocessable,
    media_type,
    read_limited,
    split,
)
from services.api.push.gateway import BrokerUnavailable
from services.api.push.schemas import PushResult, RejectedMessage
from services.api.schemas import ErrorBody
from services.common.canonical import Rejection
from services.common.feeds import FeedDefinition

router = APIRouter(tags=["push"])


@router.post(
    "/v1/feeds/{feed}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PushResult,
    responses={
        code: {"model": ErrorBody, "description": description}
        for code, description in {
            401: "No key, or an unknown or revoked one",
            403: "The key is not this feed's agency's",
            404: "Unknown feed",
            408: "The body took too long to arrive",
            409: "A request with this Idempotency-Key is still in flight",
            413: "Body larger than the limit",
            415: "Not application/json nor application/x-ndjson",
            422: "No valid message, or an Idempotency-Key reused for another body",
            429: "Too many pushes with this key; retry after Retry-After",
            503: "Broker unavailable: nothing accepted; retry after Retry-After",
        }.items()
    },
)
async def push_messages(
    feed: Feed,
    caller: Caller,
    state: State,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=idempotency.MAX_KEY_LENGTH,
            description="Retries with the same key and body get the first answer (24 h)",
        ),
    ] = None,
) -> Response:
    """Messages in the department's own format, as a JSON array or NDJSON. Each is checked as
    strictly as the worker would; the valid ones are answered 202 only once Kafka holds them."""
    if caller.kind != "agency" or caller.subject != feed.agency:
        raise Forbidden(f"this key may not push to feed {feed.feed!r}")
    state.rate_limiter.take(caller.key_id)
    limit = state.settings.push_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit:,} bytes; send smaller batches")
    kind = media_type(request.headers.get("content-type"))
    try:
        async with asyncio.timeout(state.settings.push_read_timeout_s):
            body = await read_limited(request.stream(), limit)
    except TimeoutError:
        raise RequestTimeout("the body took too long to arrive") from None
    if idempotency_key is None:
        return _json(202, (await _accept(state, feed, body, kind)).model_dump())

    agency = caller.subject
    async with state.pool.acquire() as connection:
        stored = await idempotency.claim(
            connection, agency, idempotency_key, idempotency.request_hash(feed.feed, kind, body)
        )
    if stored is not None:
        return _json(stored.status, stored.body)
    try:
        answer = idempotency.StoredResponse(
            202, (await _accept(state, feed, body, kind)).model_dump()
        )
    except ApiError as error:
        if error.status_code >= 500:
            await _release(state, agency, idempotency_key)
            raise
        answer = idempotency.StoredResponse(error.status_code, error.body())
    except BaseException:
        await _release(state, agency, idempotency_key)  # a crash: let the retry do the work
        raise
    async with state.pool.acquire() as connection:
        await idempotency.record(connection, agency, idempotency_key, answer)
    return _json(answer.status, answer.body)


async def _release(state: AppState, agency: str, key: str) -> None:
    async with state.pool.acquire() as connection:
        await idempotency.release(connection, agency, key)


def _json(status_code: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status_code)


async def _accept(state: AppState, feed: FeedDefinition, body: bytes, kind: str) -> PushResult:
    """Validates every message; produces the valid ones and waits for the broker's acks."""
    pieces = split(body, kind)
    intake = state.intakes[feed.feed]
    now = state.clock()
    future_bound = timedelta(seconds=state.settings.future_bound_s)
    accepted: list[tuple[bytes, bytes]] = []
    rejected: list[RejectedMessage] = []
    for piece in pieces:
        if piece.error is not None:
            rejected.append(RejectedMessage(index=piece.index, error=piece.error))
            continue
        outcome = intake.check(piece.message, now=now, future_bound=future_bound)
        if isinstance(outcome, Rejection):
            rejected.append(RejectedMessage(index=piece.index, error=outcome.reason))
            continue
        value = json.dumps(piece.message, ensure_ascii=False).encode()
        accepted.append((outcome.entity.encode(), value))
    if not accepted:
        raise Unprocessable(
            "no valid message in the body",
            extra={"rejected": [r.model_dump() for r in rejected]},
        )
    try:
        await state.gateway.send_all(state.settings.common.topics.raw(feed.feed), accepted)
    except BrokerUnavailable as error:
        raise Unavailable(
            f"the broker is unavailable ({error}); nothing was accepted, retry later"
        ) from None
    return PushResult(accepted=len(accepted), rejected=rejected)
