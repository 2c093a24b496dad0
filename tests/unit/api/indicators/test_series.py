"""Each kind's value of one time bucket: the rule the series of every indicator follows."""

from __future__ import annotations

import pytest

from services.api.indicators.series import bucket_value
from services.common.indicators import KINDS

# One bucket: three readings 4, 7 and 10 of the metric (sum 21), and a denominator summing 42.
BUCKET = {"n": 3, "total": 21.0, "minimum": 4.0, "maximum": 10.0, "other": 42.0}
EXPECTED = {
    "latest_max": 10.0,
    "window_max": 10.0,
    "window_min": 4.0,
    "window_count": 3.0,
    "window_sum": 21.0,
    "window_avg": 7.0,
    "ratio_of_sums": 50.0,
    "latest_ratio": 50.0,
}
WITHOUT_SERIES = {"state_share", "state_count"}  # counts of latest states


def test_every_kind_is_either_given_a_series_rule_or_refused() -> None:
    assert set(EXPECTED) | WITHOUT_SERIES == set(KINDS)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_kind_reads_its_own_aggregate(kind: str) -> None:
    assert bucket_value(kind, BUCKET) == EXPECTED[kind]


@pytest.mark.parametrize("kind", sorted(WITHOUT_SERIES))
def test_kinds_without_a_series_fall_through_to_nothing(kind: str) -> None:
    with pytest.raises(ValueError, match="have no series"):
        bucket_value(kind, BUCKET)


def test_an_empty_bucket_has_no_mean_count_or_ratio() -> None:
    empty = {"n": 0, "total": None, "minimum": None, "maximum": None, "other": None}
    for kind in ("window_avg", "window_count", "ratio_of_sums", "latest_ratio"):
        assert bucket_value(kind, empty) is None
