"""The simulator's faults, on a seeded random source: each happens at its rate's extremes
exactly as described, and never at a rate of zero."""

from __future__ import annotations

import json
import random

from services.common.feeds import FeedDefinition
from services.simulator.faults import FaultRates, Faults


def _first(feed: FeedDefinition) -> dict[str, object]:
    message: dict[str, object] = json.loads(feed.examples_path.read_text().splitlines()[0])
    return message


def _always() -> Faults:
    return Faults(FaultRates(quiet=1.0, no_reading=1.0, correction=1.0), random.Random(7))


def _never() -> Faults:
    return Faults(FaultRates.none(), random.Random(7))


def test_a_feed_goes_quiet_for_one_to_three_slots() -> None:
    assert all(1 <= _always().quiet_slots() <= 3 for _ in range(50))
    assert _never().quiet_slots() == 0


def test_a_sensor_reports_its_no_reading_token(feeds: dict[str, FeedDefinition]) -> None:
    salinity = feeds["salinity"]
    message = _first(salinity)
    broken = _always().with_no_reading(message, salinity)
    assert broken["do_man_phan_nghin"] == "N/A"
    assert message["do_man_phan_nghin"] != "N/A"  # the original is left as it was
    assert _never().with_no_reading(message, salinity) == message
    air = feeds["air-quality"]  # no "no reading" token: nothing to break
    assert _always().with_no_reading(_first(air), air) == _first(air)


def test_a_daily_feed_resends_a_day_corrected_and_others_never(
    feeds: dict[str, FeedDefinition],
) -> None:
    dossiers = feeds["admin-dossiers"]
    message = _first(dossiers)
    corrected = _always().correction(message, dossiers)
    assert corrected is not None
    assert corrected["ho_so"]["tiep_nhan"] == message["ho_so"]["tiep_nhan"] + 1  # type: ignore[index]
    assert _never().correction(message, dossiers) is None
    salinity = feeds["salinity"]
    assert _always().correction(_first(salinity), salinity) is None  # every 15 min: no "day"
