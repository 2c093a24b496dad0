from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, status

from services.api.dependencies import Caller, Feed, State
from services.api.errors import Forbidden, Unavailable
from services.api.push.body import PayloadTooLarge, Unprocessable, media_type, read_limited, split
from services.api.push.gateway import BrokerUnavailable
from services.api.push.schemas import PushResult, RejectedMessage
from services.common.canonical import Rejection
from services.ingest.admit import admit

router = APIRouter(tags=["push"])


@router.post(
    "/v1/feeds/{feed}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PushResult,
    responses={
        401: {"description": "No key, or an unknown or revoked one"},
        403: {"description": "The key is not this feed's agency's"},
        404: {"description": "Unknown feed"},
        413: {"description": "Body larger than the limit"},
        415: {"description": "Not application/json nor application/x-ndjson"},
        422: {"description": "No valid message in the body"},
        503: {"description": "Broker unavailable: nothing accepted; retry after Retry-After"},
    },
)
async def push_messages(feed: Feed, caller: Caller, state: State, request: Request) -> PushResult:
    """Messages in the department's own format, as a JSON array or NDJSON. Each is checked as
    strictly as the worker would; the valid ones are answered 202 only once Kafka holds them."""
    if caller.kind != "agency" or caller.subject != feed.agency:
        raise Forbidden(f"this key may not push to feed {feed.feed!r}")
    limit = state.settings.push_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit:,} bytes; send smaller batches")
    kind = media_type(request.headers.get("content-type"))
    pieces = split(await read_limited(request.stream(), limit), kind)

    normalise = state.normalisers[feed.feed]
    now = datetime.now(UTC)
    bounds = {
        "future_bound": timedelta(seconds=state.settings.future_bound_s),
        "backfill": timedelta(days=feed.backfill_days),
    }
    accepted: list[tuple[bytes, bytes]] = []
    rejected: list[RejectedMessage] = []
    for piece in pieces:
        if piece.error is not None:
            rejected.append(RejectedMessage(index=piece.index, error=piece.error))
            continue
        outcome = normalise(piece.message)
        if not isinstance(outcome, Rejection):
            outcome = admit(outcome, now=now, **bounds)
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
            f"the broker is unavailable ({error}); nothing was accepted, retry later",
            headers={"Retry-After": "5"},
        ) from None
    return PushResult(accepted=len(accepted), rejected=rejected)
