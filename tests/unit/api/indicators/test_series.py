"""A series' bucket width read from the request: what it accepts and what it refuses; and its
answer as sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from services.api.errors import ApiError
from services.api.indicators.definitions import load_indicators
from services.api.indicators.schemas import SeriesOut, SeriesPoint
from services.api.indicators.series import MAX_INTERVAL, parse_interval, render
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT


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


@pytest.mark.parametrize(
    "values",
    [[], [0.0], [25.0, -3.5, 0.01, 1234567.89, 1e16, 2.5e-05]],
)
def test_a_series_is_sent_as_its_documented_model_writes_it(values: list[float]) -> None:
    feeds = load_feeds(REPO_ROOT / "schemas")
    definition = load_indicators(REPO_ROOT / "schemas", feeds)["traffic.vehicles_15m"]
    start = datetime(2026, 11, 5, 22, 55, tzinfo=UTC)
    points = [(start + timedelta(minutes=5 * i), v) for i, v in enumerate(values)]
    documented = SeriesOut(
        id=definition.id,
        unit=definition.unit,
        interval_s=300,
        points=[SeriesPoint(ts=ts, value=value) for ts, value in points],
    )
    assert render(definition, timedelta(minutes=5), points) == documented.model_dump_json().encode()
