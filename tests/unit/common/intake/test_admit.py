from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.canonical import Normalised, Rejection
from services.common.intake.admit import admit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _admit(record: Normalised) -> Normalised | Rejection:
    return admit(record, now=NOW, future_bound=timedelta(minutes=5), backfill=timedelta(days=30))


def _record(ts: datetime) -> Normalised:
    return Normalised("salinity", "S1", ts, {}, ())


def test_a_record_within_bounds_is_admitted() -> None:
    record = _record(NOW + timedelta(minutes=4))
    assert _admit(record) is record
    assert _admit(_record(NOW - timedelta(days=29))) == _record(NOW - timedelta(days=29))


def test_a_future_record_is_rejected_with_how_far_ahead() -> None:
    outcome = _admit(_record(NOW + timedelta(hours=2)))
    assert outcome == Rejection(
        "time: 2026-11-25T14:00:00+00:00 is 120 min ahead of the IOC clock (at most 5 min allowed)"
    )


def test_a_record_past_the_backfill_bound_is_rejected() -> None:
    outcome = _admit(_record(NOW - timedelta(days=31)))
    assert isinstance(outcome, Rejection)
    assert "older than this feed's backfill bound of 30 days" in outcome.reason
