"""A raw record's Kafka key is its entity as normalising reads it, whoever sends the record: so
every record of an entity lands on one partition, in order, even one that was quarantined."""

from __future__ import annotations

import json

import pytest

from services.common.canonical import Normalised
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake
from tests.unit.common.intake.test_normalise import FEEDS, _examples


@pytest.mark.parametrize(("feed", "message", "canonical"), _examples())
def test_an_example_is_keyed_by_the_entity_it_normalises_to(
    feed: FeedDefinition, message: str, canonical: str
) -> None:
    intake = FeedIntake.of(feed)
    outcome = intake.normalise(json.loads(message))
    assert isinstance(outcome, Normalised)
    assert intake.key_of(message.encode()) == outcome.entity.encode()


def test_a_record_quarantined_for_its_values_is_still_keyed_by_its_entity() -> None:
    intake = FeedIntake.of(FEEDS["salinity"])
    reading = {
        "ma_tram": " CM-SAL-01 ",
        "thoi_gian": "25/11/2026 06:00",
        "do_man_phan_nghin": "72,5",
    }
    assert intake.key_of(json.dumps(reading).encode()) == b"CM-SAL-01"


@pytest.mark.parametrize("raw", [b"\xff not json", b"[]", b'{"ten_tram": "no id"}', None])
def test_a_record_without_a_readable_entity_has_no_key(raw: bytes | None) -> None:
    assert FeedIntake.of(FEEDS["salinity"]).key_of(raw) is None
