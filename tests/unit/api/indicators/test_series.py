"""A series' bucket width read from the request: what it accepts and what it refuses."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from services.api.errors import ApiError
from services.api.indicators.series import MAX_INTERVAL, parse_interval


@pytest.mark.parametrize(
    ("text", "width"),
    [("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)), ("90s", timedelta(seconds=90))],
)
def test_an_interval_is_a_number_and_a_unit(text: str, width: timedelta) -> None:
    assert parse_interval(text) == width


def test_the_widest_interval_is_accepted() -> None:
    assert parse_interval(f"{MAX_INTERVAL.days}d") == MAX_INTERVAL


@pytest.mark.parametrize(
    "text",
    [
        "0m",
        f"{MAX_INTERVAL.days + 1}d",
        "99999999999d",
        pytest.param("9" * 5000 + "s", id="5000 digits"),
    ],
)
def test_an_interval_of_nothing_or_past_the_widest_is_a_400_that_says_so(text: str) -> None:
    with pytest.raises(ApiError, match=re.escape(f"at most {MAX_INTERVAL.days}d")):
        parse_interval(text)


@pytest.mark.parametrize("text", ["1", "h", "1w", "²h", "-1h"])
def test_an_interval_of_another_shape_is_a_400_that_says_so(text: str) -> None:
    with pytest.raises(ApiError, match="must look like 5m, 1h or 1d"):
        parse_interval(text)
