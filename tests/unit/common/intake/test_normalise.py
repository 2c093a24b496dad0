"""Every example of every feed normalises to its checked canonical form; odd input is rejected
with a reason, never an exception."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from services.common.canonical import Normalised, Rejection
from services.common.feeds import FeedDefinition, load_feeds
from services.common.intake.normalise import Normaliser
from services.ingest.expected import canonical_form
from tests.conftest import SCHEMAS_DIR

FEEDS = load_feeds(SCHEMAS_DIR)


def _examples() -> list[Any]:
    cases = []
    for feed in FEEDS.values():
        messages = feed.examples_path.read_text(encoding="utf-8").splitlines()
        expected = (feed.directory / "expected.ndjson").read_text(encoding="utf-8").splitlines()
        assert len(messages) == len(expected), f"{feed.feed}: one expected line per example"
        for number, (message, canonical) in enumerate(zip(messages, expected, strict=True), 1):
            cases.append(pytest.param(feed, message, canonical, id=f"{feed.feed}-{number}"))
    return cases


@pytest.mark.parametrize(("feed", "message", "canonical"), _examples())
def test_every_example_gives_its_canonical_form(
    feed: FeedDefinition, message: str, canonical: str
) -> None:
    assert canonical_form(Normaliser(feed)(json.loads(message))) == json.loads(canonical)


def _salinity(**changes: Any) -> dict[str, Any]:
    message = {
        "ma_tram": "CM-SAL-01",
        "thoi_gian": "25/11/2026 06:00",
        "do_man_phan_nghin": "12,4",
        "muc_nuoc_cm": 107,
        "xa_phuong_ma": "32150",
    }
    return {**message, **changes}


def normalise(feed: str, message: object) -> Normalised | Rejection:
    return Normaliser(FEEDS[feed])(message)


def test_salinity_converts_decimal_comma_local_time_and_centimetres() -> None:
    outcome = normalise("salinity", _salinity())
    assert isinstance(outcome, Normalised)
    assert outcome.ts.isoformat() == "2026-11-24T23:00:00+00:00"
    assert {o.metric: o.value for o in outcome.observations} == {
        "salinity_ppt": 12.4,
        "water_level_m": 1.07,
    }


def test_a_broken_salinity_sensor_gives_no_salinity_but_keeps_the_water_level() -> None:
    outcome = normalise("salinity", _salinity(do_man_phan_nghin="N/A"))
    assert isinstance(outcome, Normalised)
    assert [o.metric for o in outcome.observations] == ["water_level_m"]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([1, 2], "expected a JSON object, got list"),
        (_salinity(ma_tram=None), "schema: ma_tram: None is not of type 'string'"),
        (_salinity(thoi_gian="2026-11-25 06:00"), "schema: thoi_gian: '2026-11-25 06:00' does not"),
        (_salinity(thoi_gian="31/02/2026 06:00"), "mapping: thoi_gian: cannot read time"),
        (_salinity(do_man_phan_nghin="99,0"), "mapping: salinity_ppt = 99 ‰ is outside [0, 60]"),
        (_salinity(muc_nuoc_cm=float("nan")), "mapping: muc_nuoc_cm: nan is not a finite number"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(message: object, reason: str) -> None:
    outcome = normalise("salinity", message)
    assert isinstance(outcome, Rejection)
    assert outcome.reason.startswith(reason)


def test_traffic_speed_is_vehicle_weighted_and_an_empty_road_has_no_speed() -> None:
    lanes = [
        {"lane": 1, "vehicles": 10, "avg_speed_kmh": 30.0},
        {"lane": 2, "vehicles": 30, "avg_speed_kmh": 50.0},
    ]
    message = {"camera": "C1", "epoch_ms": 1795561200000, "interval_s": 300, "lanes": lanes}
    outcome = normalise("traffic", message)
    assert isinstance(outcome, Normalised)
    assert {o.metric: o.value for o in outcome.observations} == {
        "vehicles": 40.0,
        "avg_speed_kmh": 45.0,
    }
    quiet = [{"lane": 1, "vehicles": 0, "avg_speed_kmh": 0.0}]
    outcome = normalise("traffic", {**message, "lanes": quiet})
    assert isinstance(outcome, Normalised)
    assert {o.metric: o.value for o in outcome.observations} == {"vehicles": 0.0}


def test_an_admin_day_starts_at_local_midnight() -> None:
    message = {
        "ngay": "2026-11-25",
        "don_vi": {"ma": "32002"},
        "ho_so": {"tiep_nhan": 1, "da_giai_quyet": 1, "dung_han": 1, "tre_han": 0, "dang_xu_ly": 0},
    }
    outcome = normalise("admin-dossiers", message)
    assert isinstance(outcome, Normalised)
    assert outcome.ts.isoformat() == "2026-11-24T17:00:00+00:00"


def test_normalising_is_deterministic() -> None:
    assert normalise("salinity", _salinity()) == normalise("salinity", _salinity())


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_a_nul_in_any_stored_text_is_rejected_not_passed_to_the_store(feed: str) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000: let through, such a record would fail its
    # batch on every retry and stall the worker.
    definition = FEEDS[feed]
    example = json.loads(definition.examples_path.read_text(encoding="utf-8").splitlines()[0])
    normalised = normalise(feed, example)
    assert isinstance(normalised, Normalised)
    paths = [definition.entity, *definition.attributes.values()]
    for path in (p for p in paths if "[]" not in p):
        message = copy.deepcopy(example)
        *parents, last = path.split(".")
        target = message
        for step in parents:
            target = target[step]
        if not isinstance(target.get(last), str):
            continue  # a number or absent: nothing to poison
        target[last] += "\x00"
        outcome = normalise(feed, message)
        if isinstance(outcome, Rejection) and outcome.reason.startswith("schema:"):
            continue  # the department's own schema already refuses it
        assert isinstance(outcome, Rejection), (path, outcome)
        assert "NUL" in outcome.reason


def test_an_overlong_id_is_rejected_even_where_a_feed_schema_allows_it() -> None:
    # The departments' schemas bound their ids (64 characters); a new feed's may not, and an id
    # past a btree entry's size limit would fail its batch for ever.
    permissive = Normaliser(dataclasses.replace(FEEDS["salinity"], schema={}))
    message = {**_salinity(), "ma_tram": "X" * 5000}
    assert permissive(message) == Rejection("mapping: ma_tram is longer than 256 characters")
