"""Strong ETags for what the wall polls: the tag is a hash of the exact body, so it changes
exactly when the answer does, and an unchanged answer costs a 304 with no body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Request, Response
from pydantic import BaseModel

# Caches may keep the answer but must ask again each time: cheap with If-None-Match.
CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One answer, as sent: the JSON body and its strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, model: BaseModel) -> Rendered:
        body = model.model_dump_json().encode()
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def send(request: Request, answer: Rendered) -> Response:
    headers = {"ETag": answer.etag, "Cache-Control": CACHE_CONTROL}
    if matches(answer.etag, request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)


def conditional(request: Request, model: BaseModel) -> Response:
    return send(request, Rendered.of(model))


def matches(etag: str, if_none_match: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks)."""
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
