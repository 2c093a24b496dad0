"""Reading a push request's body: streamed with a size limit, then split into messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from services.api.errors import ApiError

JSON = "application/json"
NDJSON = "application/x-ndjson"


class PayloadTooLarge(ApiError):
    status_code = 413
    error = "payload_too_large"


class RequestTimeout(ApiError):
    status_code = 408
    error = "request_timeout"


class UnsupportedMediaType(ApiError):
    status_code = 415
    error = "unsupported_media_type"


class Unprocessable(ApiError):
    status_code = 422
    error = "unprocessable"


@dataclass(frozen=True, slots=True)
class Piece:
    """One message of the body: decoded, or the reason it could not be."""

    index: int
    message: object | None
    error: str | None = None


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, failing with 413 as soon as it passes ``limit`` bytes."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is larger than {limit:,} bytes; send smaller batches")
    return bytes(body)


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (JSON, NDJSON):
        raise UnsupportedMediaType(
            f"Content-Type must be {JSON} (an array of messages) or {NDJSON} (one per line), "
            f"got {content_type or 'none'!r}"
        )
    return kind


def split(body: bytes, kind: str) -> list[Piece]:
    # orjson, as the worker decodes: what it refuses (a lone surrogate escape, NaN) could not
    # be stored, so it is refused here, with its reason, not accepted and quarantined later.
    if kind == JSON:
        try:
            messages = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise Unprocessable(f"the body is not valid JSON: {error}") from None
        if not isinstance(messages, list):
            raise Unprocessable("the body must be a JSON array of messages")
        return [Piece(index, message) for index, message in enumerate(messages)]
    pieces = []
    for index, line in enumerate(line for line in body.splitlines() if line.strip()):
        try:
            pieces.append(Piece(index, orjson.loads(line)))
        except orjson.JSONDecodeError as error:
            pieces.append(Piece(index, None, f"line is not valid JSON: {error}"))
    return pieces
