"""What the commands show a person: moments in the province's zone with their offset, ages in
words, payloads cut to a line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.terminal import age, moment, short


def test_a_moment_is_the_provinces_time_with_its_offset() -> None:
    at = datetime(2026, 12, 4, 23, 30, 15, tzinfo=UTC)
    assert moment(at) == "2026-12-05 06:30 +07:00"
    assert moment(at, seconds=True) == "2026-12-05 06:30:15 +07:00"
    assert moment(None) == "-"


def test_an_age_in_its_two_largest_units() -> None:
    assert age(timedelta(seconds=40)) == "40s"
    assert age(timedelta(minutes=3, seconds=5)) == "3m 05s"
    assert age(timedelta(hours=2, minutes=5)) == "2h 05m"
    assert age(timedelta(days=3, hours=4, minutes=59)) == "3d 4h"
    assert age(timedelta(seconds=-90)) == "-1m 30s"  # an event ahead of the clock
    assert age(timedelta(minutes=15)) == "15m"
    assert age(timedelta(days=1)) == "1d"
    assert age(None) == "-"


def test_a_payload_is_one_short_line() -> None:
    assert short('{"a":\n 1}') == '{"a": 1}'
    assert short("x" * 100, 10) == "x" * 9 + "…"
