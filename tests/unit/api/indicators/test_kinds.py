"""Every indicator kind of the registry: how its parts combine, its value. (A bucket's value is
SQL: tests/integration/api/test_kind_buckets.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.api.indicators.kinds import KINDS, Part

EARLY = datetime(2026, 11, 1, 7, tzinfo=UTC)
LATE = datetime(2026, 11, 1, 8, tzinfo=UTC)

# Two wards, as each kind's query reads them (a: hits/numerator/aggregate; b: total/count).
WARDS = [Part("p1", 3.0, 4.0, EARLY), Part("p2", 1.0, 6.0, LATE)]

# kind: (province value from WARDS, the first ward's value)
EXPECTED: dict[str, tuple[float | None, float | None]] = {
    "state_share": (40.0, 75.0),  # 4 of 10 entities
    "state_count": (4.0, 3.0),
    "overdue_tasks": (4.0, 3.0),  # 4 of 10 tasks overdue
    "ratio_of_sums": (40.0, 75.0),
    "latest_ratio": (40.0, 75.0),
    "latest_max": (3.0, 3.0),
    "window_max": (3.0, 3.0),
    "window_min": (1.0, 3.0),
    "window_sum": (4.0, 3.0),
    "window_count": (4.0, 3.0),
    "window_avg": (1.8, 3.0),  # (3*4 + 1*6) / 10: a mean of means, weighted by counts
}


def test_every_kind_of_the_registry_is_covered_here() -> None:
    assert set(EXPECTED) == set(KINDS)
    assert all(name == kind.name for name, kind in KINDS.items())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_kind_combines_its_wards_into_the_province(name: str) -> None:
    kind = KINDS[name]
    whole = kind.combine(WARDS)
    assert whole.part is None
    assert whole.as_of == LATE
    assert kind.value(whole) == EXPECTED[name][0]
    assert kind.value(WARDS[0]) == EXPECTED[name][1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_group_without_readings_shows_no_value_or_zero(name: str) -> None:
    kind = KINDS[name]
    nothing = Part(None, None, None, None)
    assert kind.value(kind.combine([nothing])) in (None, 0.0)
