"""The since mark: the newest value of the followed field, by event time when it is the feed's
time field (whatever its format), else by value; records without it leave the mark alone."""

from __future__ import annotations

from services.common.feeds import FeedDefinition
from services.common.intake.normalise import Normaliser
from services.connectors.since import HighWater, order_for


def _high(feeds: dict[str, FeedDefinition], feed: str, field: str, mark: object) -> HighWater:
    return HighWater(field, order_for(field, Normaliser(feeds[feed])), mark)


def test_the_feeds_time_is_compared_as_instants_not_as_text(
    feeds: dict[str, FeedDefinition],
) -> None:
    # Salinity's times are local "dd/mm/yyyy HH:MM": as text 02/12 sorts before 30/11.
    high = _high(feeds, "salinity", "thoi_gian", "30/11/2026 06:00")
    high.see({"thoi_gian": "29/11/2026 23:00"})
    assert high.mark == "30/11/2026 06:00"
    high.see({"thoi_gian": "02/12/2026 06:00"})
    assert high.mark == "02/12/2026 06:00"


def test_offsets_are_compared_as_instants(feeds: dict[str, FeedDefinition]) -> None:
    high = _high(feeds, "hospital-beds", "thoi_diem", None)
    high.see({"thoi_diem": "2026-11-25T12:00:00+07:00"})  # 05:00 UTC
    high.see({"thoi_diem": "2026-11-25T06:00:00+00:00"})  # 06:00 UTC: newer
    high.see({"thoi_diem": "2026-11-25T12:30:00+07:00"})  # 05:30 UTC
    assert high.mark == "2026-11-25T06:00:00+00:00"


def test_another_field_is_compared_by_value_and_a_missing_one_is_skipped(
    feeds: dict[str, FeedDefinition],
) -> None:
    high = _high(feeds, "hospital-beds", "phien_ban", 7)
    for record in ({"phien_ban": 3}, {}, {"phien_ban": "12"}, {"phien_ban": 12}, {"phien_ban": 9}):
        high.see(record)
    assert high.mark == 12  # the text "12" is of another kind than the mark


def test_a_record_without_a_readable_time_leaves_the_mark(
    feeds: dict[str, FeedDefinition],
) -> None:
    high = _high(feeds, "hospital-beds", "thoi_diem", None)
    high.see({"thoi_diem": "hôm qua"})
    high.see("not even an object")
    assert high.mark is None
