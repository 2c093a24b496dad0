"""The four quality scores of Vietnamese practice, pure, each between 0 and 1:

- đúng (correct): the share of received records that were valid (not quarantined);
- đủ (sufficient): the records held against those expected (known entities times the window's
  cadences), for periodic feeds; event-driven feeds (reports, tasks) have no expectation;
- sạch (clean): the share of received records neither quarantined nor repeated (re-sent for an
  event time already held: duplicates, and corrections of earlier figures);
- sống (live): 1 for a live feed, ½ for a late one, 0 for stale or silent.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.api.feeds.status import FeedStatus
from services.api.feeds.window import Received

LIVE_SCORE: dict[FeedStatus, float] = {"live": 1.0, "late": 0.5, "stale": 0.0, "silent": 0.0}


def correct(received: Received) -> float | None:
    if received.records == 0:
        return None
    return _share(received.records - received.quarantined, received.records)


def clean(received: Received) -> float | None:
    if received.records == 0:
        return None
    kept = received.records - received.quarantined - received.repeated
    return _share(max(kept, 0), received.records)


def sufficient(held: int, entities: int, cadences: int) -> float | None:
    expected = entities * cadences
    if expected == 0:
        return None
    return _share(min(held, expected), expected)


def mean(scores: Iterable[float | None]) -> float | None:
    known = [score for score in scores if score is not None]
    return round(sum(known) / len(known), 4) if known else None


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4)
