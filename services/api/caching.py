"""Strong ETags for what the wall polls: the tag is a hash of the exact body, so it changes
exactly when the answer does, and an unchanged answer costs a 304 with no body.

``reply_to`` is the one conditional-response rule; the endpoints (``send``) and the kept
answers' ASGI path both send what it gives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from fastapi import Request, Response
from pydantic import BaseModel

# Caches may keep the answer but must ask again each time: cheap with If-None-Match.
CACHE_CONTROL = "private, no-cache"

Headers = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class Rendered:
    """One answer, as sent: the JSON body and its strong ETag, and both replies made once (a
    poll then costs no header building)."""

    body: bytes
    etag: str
    not_modified: Reply = field(init=False)
    full: Reply = field(init=False)

    def __post_init__(self) -> None:
        headers: Headers = (
            (b"etag", self.etag.encode()),
            (b"cache-control", CACHE_CONTROL.encode()),
        )
        object.__setattr__(self, "not_modified", Reply(304, headers, b""))
        content = (
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(self.body)),
        )
        object.__setattr__(self, "full", Reply(200, headers + content, self.body))

    @classmethod
    def of(cls, model: BaseModel) -> Rendered:
        body = model.model_dump_json().encode()
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def reply_to(if_none_match: str, answer: Rendered) -> Reply:
    return answer.not_modified if matches(answer.etag, if_none_match) else answer.full


def matches(etag: str, if_none_match: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks)."""
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}


def send(request: Request, answer: Rendered) -> Response:
    reply = reply_to(request.headers.get("if-none-match", ""), answer)
    response = Response(reply.body, status_code=reply.status)
    response.raw_headers = list(reply.headers)
    return response


def conditional(request: Request, model: BaseModel) -> Response:
    return send(request, Rendered.of(model))
