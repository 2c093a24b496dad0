"""Reading a push request's body: streamed with a size limit, then split into messages, as
many as a push may hold."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson

from services.api.errors import ApiError

JSON = "application/json"
NDJSON = "application/x-ndjson"
LINE = re.compile(rb"[^\r\n]+")  # the lines bytes.splitlines gives, found one at a time


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


def split(body: bytes, kind: str, max_messages: int) -> list[Piece]:
    """The body's messages; more than ``max_messages`` is a 413. NDJSON is counted as its lines
    are found, so nothing past the limit is read. An array is counted once parsed: the byte limit
    bounds what parsing makes (5 MiB of ``{}`` is 1.7 million dicts, ~190 MB for a moment), and
    counting first would cost every push a second, slower parse."""
    # orjson, as the worker decodes: what it refuses (a lone surrogate escape, NaN) could not
    # be stored, so it is refused here, with its reason, not accepted and quarantined later.
    if kind == JSON:
        try:
            messages = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise Unprocessable(f"the body is not valid JSON: {error}") from None
        if not isinstance(messages, list):
            raise Unprocessable("the body must be a JSON array of messages")
        if len(messages) > max_messages:
            raise _too_many(max_messages)
        return [Piece(index, message) for index, message in enumerate(messages)]
    pieces = []
    lines = (found.group() for found in LINE.finditer(body))
    for index, line in enumerate(line for line in lines if line.strip()):
        if index == max_messages:
            raise _too_many(max_messages)
        try:
            pieces.append(Piece(index, orjson.loads(line)))
        except orjson.JSONDecodeError as error:
            pieces.append(Piece(index, None, f"line is not valid JSON: {error}"))
    return pieces


def _too_many(max_messages: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body holds more than {max_messages:,} messages; send smaller batches"
    )
