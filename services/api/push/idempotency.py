"""Idempotency-Key for pushes (the IETF httpapi draft's semantics), scoped per agency.

The first request with a key claims it; a retry with the same key and body gets the first
answer, and nothing is produced twice; the same key with another body is a 422; a retry while
the first is still in flight is a 409. A request that failed for a reason worth retrying (503)
releases its key. Keys are kept ``kept`` (``IOC_IDEMPOTENCY_KEPT_S``, a day), by the API's clock:
then the key is free again, and ``keep_purging`` deletes it with the answer kept for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.api.errors import ApiError
from services.common.db import DATABASE_ERRORS

MAX_KEY_LENGTH = 255
log = logging.getLogger("ioc.api")


class IdempotencyConflict(ApiError):
    status_code = 409
    error = "conflict"


class IdempotencyMismatch(ApiError):
    status_code = 422
    error = "idempotency_key_reused"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def request_hash(feed: str, content_type: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([feed.encode(), content_type.encode(), body])).hexdigest()


async def claim(
    connection: Any, agency: str, key: str, digest: str, *, now: datetime, kept: timedelta
) -> StoredResponse | None:
    """Claims ``key`` for this request; returns the stored answer when it was answered before."""
    async with connection.transaction():
        await connection.execute(
            "DELETE FROM idempotency_keys WHERE agency = $1 AND key = $2 AND created_at < $3",
            agency,
            key,
            now - kept,
        )
        claimed = await connection.fetchval(
            "INSERT INTO idempotency_keys (agency, key, request_hash, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
            agency,
            key,
            digest,
            now,
        )
        if claimed:
            return None
        row = await connection.fetchrow(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys"
            " WHERE agency = $1 AND key = $2",
            agency,
            key,
        )
    if row["request_hash"] != digest:
        raise IdempotencyMismatch(
            "this Idempotency-Key was used with another request body; use a new key"
        )
    if row["response_status"] is None:
        raise IdempotencyConflict("a request with this Idempotency-Key is still in flight")
    return StoredResponse(row["response_status"], row["response_body"])


async def record(connection: Any, agency: str, key: str, response: StoredResponse) -> None:
    await connection.execute(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4"
        " WHERE agency = $1 AND key = $2",
        agency,
        key,
        response.status,
        response.body,
    )


async def release(connection: Any, agency: str, key: str) -> None:
    await connection.execute(
        "DELETE FROM idempotency_keys WHERE agency = $1 AND key = $2 AND response_status IS NULL",
        agency,
        key,
    )


async def purge(connection: Any, now: datetime, kept: timedelta) -> int:
    """Deletes every key kept its time (a claim a crash left unanswered too); returns how many."""
    done: str = await connection.execute(
        "DELETE FROM idempotency_keys WHERE created_at < $1", now - kept
    )
    return int(done.split()[-1])


async def keep_purging(
    pool: Any, clock: Callable[[], datetime], kept: timedelta, every_s: float
) -> None:
    """Deletes the keys kept their time every ``every_s``: without it a key, and the answer
    kept with it, stayed until its agency happened to send the same key again."""
    while True:
        try:
            async with pool.acquire() as connection:
                purged = await purge(connection, clock(), kept)
            if purged:
                log.info("idempotency keys: %d kept past %s deleted", purged, kept)
        except DATABASE_ERRORS as error:
            log.warning("idempotency keys not purged: database unavailable (%r)", error)
        await asyncio.sleep(every_s)
