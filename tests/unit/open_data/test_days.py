"""`ioc export`'s days: typed as ISO or day first, counted on the province's calendar against
the clock it is given (pinned here): none still to come, today's flagged as unfinished."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.open_data.days import DayError, export_days_at, parse_day

# 23:30 UTC on the 4th is 06:30 on the 5th in the province: its today is the 5th.
NOW = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-11-24", date(2026, 11, 24)),
        ("24/11/2026", date(2026, 11, 24)),
        ("4/1/2027", date(2027, 1, 4)),  # day first: the 4th of January
        (" 05/12/2026 ", date(2026, 12, 5)),
    ],
)
def test_a_day_is_iso_or_day_first(text: str, day: date) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize("text", ["31/02/2026", "11/24/2026", "24.11.2026", "yesterday", ""])
def test_anything_else_is_refused_showing_both_ways(text: str) -> None:
    with pytest.raises(DayError, match=r"write 2026-11-24 or 24/11/2026 \(day first\)"):
        parse_day(text)


def test_past_days_are_whole() -> None:
    days = export_days_at(date(2026, 11, 20), date(2026, 12, 4), NOW)
    assert (days.today, days.unfinished) == (date(2026, 12, 5), None)


def test_today_in_the_province_is_unfinished_though_utc_is_still_yesterday() -> None:
    days = export_days_at(date(2026, 12, 1), date(2026, 12, 5), NOW)
    assert days.unfinished == date(2026, 12, 5)


def test_a_day_still_to_come_is_refused() -> None:
    with pytest.raises(DayError) as refused:
        export_days_at(date(2026, 12, 5), date(2026, 12, 6), NOW)
    assert str(refused.value) == (
        "--to 2026-12-06 has not come yet in Asia/Ho_Chi_Minh (today is 2026-12-05): a day is"
        " exported once it holds data"
    )


def test_backwards_is_refused() -> None:
    with pytest.raises(DayError, match="--to 2026-11-20 is before --from 2026-11-26"):
        export_days_at(date(2026, 11, 26), date(2026, 11, 20), NOW)
