"""``POST /v1/feeds/{feed}/messages``: an agency pushes its messages over HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import JSONResponse

from services.api.access import require_push
from services.api.dependencies import Caller, Feed, State
from services.api.push import idempotency
from services.api.push.body import PayloadTooLarge, RequestTimeout, media_type, read_limited
from services.api.push.schemas import PushResult
from services.api.push.service import accept, answer_once
from services.api.schemas import ErrorBody

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
            413: "Body larger than the limit, or more messages than a push may hold",
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
            description="Retries with the same key and body get the first answer, for a day "
            "(IOC_IDEMPOTENCY_KEPT_S)",
        ),
    ] = None,
) -> Response:
    """Messages in the department's own format, as a JSON array or NDJSON. Each is checked as
    strictly as the worker would; the valid ones are answered 202 only once Kafka holds them."""
    require_push(caller, feed)
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

    now = state.clock()

    async def push() -> PushResult:
        return await accept(
            body,
            kind,
            intake=state.intakes[feed.feed],
            gateway=state.gateway,
            topic=state.settings.common.topics.raw(feed.feed),
            now=now,
            future_bound=state.settings.common.future_bound,
            max_messages=state.settings.push_max_messages,
        )

    if idempotency_key is None:
        return JSONResponse((await push()).model_dump(), status_code=202)
    digest = idempotency.request_hash(feed.feed, kind, body)
    answer = await answer_once(
        state.pool,
        caller.subject,
        idempotency_key,
        digest,
        push,
        now=now,
        kept=state.settings.idempotency_kept,
    )
    return JSONResponse(answer.body, status_code=answer.status)
