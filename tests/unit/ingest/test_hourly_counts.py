"""The feeds' hourly counts of a batch's records not counted before: received, quarantined, and
repeated (valid records that brought no new row)."""

from __future__ import annotations

from services.ingest.batch import Received
from services.ingest.writer import counts


def _received(feed: str, offset: int, *, invalid: bool = False) -> Received:
    return Received(feed, f"ioc.raw.{feed}", 0, offset, invalid)


def test_records_are_received_quarantined_or_repeated_per_feed() -> None:
    batch = [
        _received("salinity", 0),
        _received("salinity", 1, invalid=True),
        _received("salinity", 2),
        _received("salinity", 3),
        _received("traffic", 0),
    ]
    # Two of salinity's three valid records brought new rows; traffic's one did.
    assert counts(batch, {"salinity": 2, "traffic": 1}) == [
        ["salinity", "traffic"],
        [4, 1],
        [1, 0],
        [1, 0],
    ]


def test_a_feed_with_no_new_row_counts_every_valid_record_as_repeated() -> None:
    assert counts([_received("air-quality", 5), _received("air-quality", 6)], {}) == [
        ["air-quality"],
        [2],
        [0],
        [2],
    ]


def test_nothing_uncounted_counts_nothing() -> None:
    assert counts([], {"salinity": 0}) == [[], [], [], []]
