"""Every indicator kind of the registry: its bucket value, how its parts combine, its value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.api.indicators.kinds import KINDS, NoSeries, Part

EARLY = datetime(2026, 11, 1, 7, tzinfo=UTC)
LATE = datetime(2026, 11, 1, 8, tzinfo=UTC)

# One bucket: three readings 4, 7 and 10 of the metric (sum 21), and a denominator summing 42.
BUCKET = {"n": 3, "total": 21.0, "minimum": 4.0, "maximum": 10.0, "other": 42.0}
EMPTY_BUCKET = {"n": 0, "total": None, "minimum": None, "maximum": None, "other": None}

# Two wards, as each kind's query reads them (a: hits/numerator/aggregate; b: total/count).
WARDS = [Part("p1", 3.0, 4.0, EARLY), Part("p2", 1.0, 6.0, LATE)]

# kind: (bucket value, province value from WARDS, the first ward's value)
EXPECTED: dict[str, tuple[float | None, float | None, float | None]] = {
    "state_share": (None, 40.0, 75.0),  # 4 of 10 entities; no series
    "state_count": (None, 4.0, 3.0),
    "overdue_tasks": (None, 4.0, 3.0),  # 4 of 10 tasks overdue; no series
    "ratio_of_sums": (50.0, 40.0, 75.0),
    "latest_ratio": (50.0, 40.0, 75.0),
    "latest_max": (10.0, 3.0, 3.0),
    "window_max": (10.0, 3.0, 3.0),
    "window_min": (4.0, 1.0, 3.0),
    "window_sum": (21.0, 4.0, 3.0),
    "window_count": (3.0, 4.0, 3.0),
    "window_avg": (7.0, 1.8, 3.0),  # (3*4 + 1*6) / 10: a mean of means, weighted by counts
}


def test_every_kind_of_the_registry_is_covered_here() -> None:
    assert set(EXPECTED) == set(KINDS)
    assert all(name == kind.name for name, kind in KINDS.items())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_kind_reads_its_own_aggregate_of_a_bucket(name: str) -> None:
    kind, expected = KINDS[name], EXPECTED[name][0]
    if not kind.has_series:
        with pytest.raises(NoSeries, match="no series"):
            kind.bucket_value(BUCKET)
        return
    assert kind.bucket_value(BUCKET) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_kind_combines_its_wards_into_the_province(name: str) -> None:
    kind = KINDS[name]
    whole = kind.combine(WARDS)
    assert whole.part is None
    assert whole.as_of == LATE
    assert kind.value(whole) == EXPECTED[name][1]
    assert kind.value(WARDS[0]) == EXPECTED[name][2]


@pytest.mark.parametrize("name", sorted(name for name, kind in KINDS.items() if kind.has_series))
def test_an_empty_bucket_has_no_value(name: str) -> None:
    assert KINDS[name].bucket_value(EMPTY_BUCKET) is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_group_without_readings_shows_no_value_or_zero(name: str) -> None:
    kind = KINDS[name]
    nothing = Part(None, None, None, None)
    assert kind.value(kind.combine([nothing])) in (None, 0.0)
