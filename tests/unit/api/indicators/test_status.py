from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.indicators.definitions import Thresholds
from services.api.indicators.status import status_of

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
CADENCE = timedelta(minutes=15)
HIGHER = Thresholds(better="higher", warning=60, critical=40)
LOWER = Thresholds(better="lower", warning=4, critical=10)


@pytest.mark.parametrize(
    ("value", "thresholds", "expected"),
    [
        (75.0, HIGHER, "ok"),
        (50.0, HIGHER, "warning"),
        (30.0, HIGHER, "critical"),
        (2.0, LOWER, "ok"),
        (5.0, LOWER, "warning"),
        (19.8, LOWER, "critical"),
        (19.8, None, "ok"),
    ],
)
def test_thresholds_set_the_status_of_fresh_data(
    value: float, thresholds: Thresholds | None, expected: str
) -> None:
    fresh = NOW - CADENCE
    assert status_of(value, fresh, cadence=CADENCE, thresholds=thresholds, now=NOW) == expected


def test_data_past_twice_its_cadence_is_stale_whatever_its_value() -> None:
    old = NOW - 2 * CADENCE - timedelta(minutes=6)
    assert status_of(75.0, old, cadence=CADENCE, thresholds=HIGHER, now=NOW) == "stale"
    assert status_of(None, NOW, cadence=CADENCE, thresholds=HIGHER, now=NOW) == "stale"


def test_no_data_at_all_is_no_data() -> None:
    assert status_of(None, None, cadence=CADENCE, thresholds=HIGHER, now=NOW) == "no_data"
