"""The invalid-ratio window: a feed is halted once, when its recent records cross the limit."""

from __future__ import annotations

from services.ingest.invalid_ratio import InvalidRatioLimit


def test_a_feed_is_judged_only_on_a_full_window() -> None:
    limit = InvalidRatioLimit(limit=0.5, window=4)
    assert [limit.record("air", invalid=True) for _ in range(3)] == [False, False, False]
    assert limit.record("air", invalid=True) is True
    assert limit.halted == {"air"}


def test_the_window_slides_so_old_invalid_records_are_forgotten() -> None:
    limit = InvalidRatioLimit(limit=0.75, window=4)
    for invalid in (True, True, False, False, False, False, True, True):
        assert limit.record("air", invalid=invalid) is False
    assert limit.record("air", invalid=True) is True  # the last four: 3 of 4 invalid


def test_crossing_is_told_once_and_other_feeds_flow_on() -> None:
    limit = InvalidRatioLimit(limit=1.0, window=2)
    assert [limit.record("air", invalid=True) for _ in range(4)] == [False, True, False, False]
    assert limit.record("traffic", invalid=False) is False
    assert limit.record("traffic", invalid=True) is False
    assert limit.halted == {"air"}
