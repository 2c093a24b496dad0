"""A push body split into its messages, as many as a push may hold."""

from __future__ import annotations

import pytest

from services.api.push.body import JSON, NDJSON, PayloadTooLarge, split


def test_more_messages_than_the_cap_is_413_naming_it() -> None:
    for body, kind in ((b"[0, 0, 0, 0]", JSON), (b"0\n0\n0\n0\n", NDJSON)):
        with pytest.raises(PayloadTooLarge, match="more than 3 messages"):
            split(body, kind, max_messages=3)
    assert len(split(b"[0, 0, 0]", JSON, max_messages=3)) == 3


def test_ndjson_lines_are_split_as_splitlines_does_and_blank_ones_are_not_messages() -> None:
    pieces = split(b'1\r\n\r\n{"a": 2}\r3\n  \n{broken', NDJSON, max_messages=4)
    assert [(p.index, p.message) for p in pieces[:3]] == [(0, 1), (1, {"a": 2}), (2, 3)]
    assert (pieces[3].index, pieces[3].message) == (3, None)
    assert str(pieces[3].error).startswith("line is not valid JSON")
