"""A push, once its body is read: every message checked as strictly as the worker would, the
valid ones produced keyed by entity and answered only once Kafka holds them; with an
Idempotency-Key, the first answer is kept and given again to every retry. A spreadsheet upload
produces its rows through the same ``record_of`` and ``produce``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from services.api.errors import ApiError, Unavailable
from services.api.push import idempotency
from services.api.push.body import Unprocessable, split
from services.api.push.gateway import BrokerUnavailable, KafkaGateway
from services.api.push.schemas import LISTED_REJECTIONS, MessageError, PushResult
from services.common.canonical import Normalised, Rejection
from services.common.intake.feed_intake import FeedIntake


async def accept(
    body: bytes,
    kind: str,
    *,
    intake: FeedIntake,
    gateway: KafkaGateway,
    topic: str,
    now: datetime,
    future_bound: timedelta,
    max_messages: int,
) -> PushResult:
    """Validates every message; produces the valid ones and waits for the broker's acks."""
    accepted: list[tuple[bytes, bytes]] = []
    rejected: list[MessageError] = []
    for piece in split(body, kind, max_messages):
        if piece.error is not None:
            rejected.append(MessageError(index=piece.index, error=piece.error))
            continue
        outcome = intake.check(piece.message, now=now, future_bound=future_bound)
        if isinstance(outcome, Rejection):
            rejected.append(MessageError(index=piece.index, error=outcome.reason))
            continue
        accepted.append(record_of(piece.message, outcome))
    # The answer, and the copy kept with an Idempotency-Key, list a few, not every one.
    result = PushResult(
        accepted=len(accepted),
        rejected=rejected[:LISTED_REJECTIONS],
        rejected_count=len(rejected),
    )
    if not accepted:
        raise Unprocessable(
            "no valid message in the body", extra=result.model_dump(exclude={"accepted"})
        )
    await produce(gateway, topic, accepted)
    return result


def record_of(message: object, outcome: Normalised) -> tuple[bytes, bytes]:
    """A checked message as the (key, value) record the worker reads: keyed by its entity, so
    every record of an entity is on one partition, in order, whoever sent it."""
    # Not orjson: each of its results keeps a buffer of about 4 KiB (50,000 rows of an upload
    # held until produced took 200 MiB more), where json's take the bytes they hold.
    return outcome.entity.encode(), json.dumps(message, ensure_ascii=False).encode()


async def produce(
    gateway: KafkaGateway,
    topic: str,
    records: list[tuple[bytes, bytes]],
    *,
    timeout_s: float | None = None,
) -> None:
    """Returns once the broker acknowledged every record; else a 503 and nothing accepted."""
    try:
        await gateway.send_all(topic, records, timeout_s=timeout_s)
    except BrokerUnavailable as error:
        raise Unavailable(
            f"the broker is unavailable ({error}); nothing was accepted, retry later"
        ) from None


async def answer_once(
    pool: Any,
    agency: str,
    key: str,
    digest: str,
    push: Callable[[], Awaitable[PushResult]],
    *,
    now: datetime,
    kept: timedelta,
) -> idempotency.StoredResponse:
    """The first answer to this agency's ``key`` within ``kept``, pushing only if there is none
    yet. A client error is kept as the answer too; a server error or a crash is not, so a retry
    does the work."""
    async with pool.acquire() as connection:
        stored = await idempotency.claim(connection, agency, key, digest, now=now, kept=kept)
    if stored is not None:
        return stored
    try:
        answer = idempotency.StoredResponse(202, (await push()).model_dump())
    except ApiError as error:
        if error.status_code >= 500:
            await _release(pool, agency, key)
            raise
        answer = idempotency.StoredResponse(error.status_code, error.body())
    except BaseException:
        await _release(pool, agency, key)
        raise
    async with pool.acquire() as connection:
        await idempotency.record(connection, agency, key, answer)
    return answer


async def _release(pool: Any, agency: str, key: str) -> None:
    async with pool.acquire() as connection:
        await idempotency.release(connection, agency, key)
