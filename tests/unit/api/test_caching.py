"""The one conditional-response rule: a matching If-None-Match is a 304 without a body."""

from __future__ import annotations

import pytest

from services.api.caching import CACHE_CONTROL, Rendered, reply_to
from services.api.schemas import ErrorBody

ANSWER = Rendered.of(ErrorBody(error="x", detail="y"))


@pytest.mark.parametrize(
    "if_none_match",
    [ANSWER.etag, f"W/{ANSWER.etag}", f'"other", {ANSWER.etag}'],
)
def test_a_matching_tag_is_not_modified(if_none_match: str) -> None:
    reply = reply_to(if_none_match, ANSWER)
    assert (reply.status, reply.body) == (304, b"")
    assert dict(reply.headers) == {
        b"etag": ANSWER.etag.encode(),
        b"cache-control": CACHE_CONTROL.encode(),
    }


@pytest.mark.parametrize("if_none_match", ["", '"other"', "*x"])
def test_otherwise_the_whole_answer(if_none_match: str) -> None:
    reply = reply_to(if_none_match, ANSWER)
    assert (reply.status, reply.body) == (200, ANSWER.body)
    headers = dict(reply.headers)
    assert headers[b"content-length"] == str(len(ANSWER.body)).encode()
    assert headers[b"content-type"] == b"application/json"


def test_the_tag_follows_the_body() -> None:
    same = Rendered.of(ErrorBody(error="x", detail="y"))
    other = Rendered.of(ErrorBody(error="x", detail="z"))
    assert same.etag == ANSWER.etag != other.etag
