"""A page's cursor comes back as the position it was made from, for its own order only; anything
else is refused with what is wrong."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from services.api.observations.paging import CursorError, Position, decode, encode

LAST = Position(datetime(2026, 11, 24, 23, 0, tzinfo=UTC), "CM-SAL-03", "water_level_m")


def _raw(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_cursor_gives_back_its_position(order: str) -> None:
    cursor = encode(order, LAST)  # type: ignore[arg-type]
    assert cursor.isascii()
    assert "=" not in cursor  # as a query parameter it needs no escaping
    assert decode(cursor, order) == LAST  # type: ignore[arg-type]


def test_a_cursor_for_the_other_order_is_refused_saying_so() -> None:
    with pytest.raises(CursorError, match="cursor was given for order=desc"):
        decode(encode("desc", LAST), "asc")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "",
        _raw({"ts": "x"}),
        _raw(["desc", "2026-11-24T23:00:00", "e", "m"]),  # a time without its offset
        _raw(["desc", "yesterday", "e", "m"]),
        _raw(["desc", "2026-11-24T23:00:00+00:00", "e", 3]),
        _raw(["desc", "2026-11-24T23:00:00+00:00", "e\x00", "m"]),
        _raw([[[[[]]]]]),
        "A" * 1001,
    ],
)
def test_a_cursor_this_service_did_not_give_is_refused(cursor: str) -> None:
    with pytest.raises(CursorError, match=r"^cursor is not one this service gave"):
        decode(cursor, "desc")
