"""The typed decoder is only a fast path: for any record's bytes, checking it through the decoder
gives exactly what the reference way gives (orjson, the schema validator, the normaliser),
record or rejection, reason included; and a schema it cannot express exactly gets none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.canonical import Normalised, Rejection
from services.common.intake.decode import decode
from services.common.intake.feed_intake import FeedIntake
from services.common.intake.typed_decoder import typed_decoder
from tests.unit.common.intake.test_normalise_properties import (
    EXAMPLES,
    FEEDS,
    JSON_VALUES,
    PROPERTY,
    _paths,
    _replaced,
)

INTAKES = {name: FeedIntake.of(feed) for name, feed in FEEDS.items()}
NOW = datetime(2026, 12, 5, 3, tzinfo=UTC)
BOUND = timedelta(minutes=5)


def _reference(feed: str, raw: bytes) -> Normalised | Rejection:
    decoded = decode(raw)
    if isinstance(decoded, Rejection):
        return decoded
    return INTAKES[feed].check(decoded, now=NOW, future_bound=BOUND)


def _checked(feed: str, raw: bytes) -> Normalised | Rejection:
    return INTAKES[feed].check_record(raw, now=NOW, future_bound=BOUND)


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_every_feed_has_a_typed_decoder_that_takes_its_examples_as_the_reference_does(
    feed: str,
) -> None:
    for message in EXAMPLES[feed]:
        raw = json.dumps(message, ensure_ascii=False).encode()
        assert INTAKES[feed].normalise.from_bytes(raw) is not None
        assert _checked(feed, raw) == _reference(feed, raw)


def _json(message: Any) -> bytes:
    # NaN and infinities come out as the non-JSON literals a careless sender writes.
    return json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")


@PROPERTY
@given(feed=st.sampled_from(sorted(FEEDS)), data=st.data())
def test_any_field_replaced_by_anything_checks_as_the_reference_way(
    feed: str, data: st.DataObject
) -> None:
    message = data.draw(st.sampled_from(EXAMPLES[feed]))
    path = data.draw(st.sampled_from(_paths(message)))
    raw = _json(_replaced(message, path, data.draw(JSON_VALUES)))
    assert _checked(feed, raw) == _reference(feed, raw)


@PROPERTY
@given(feed=st.sampled_from(sorted(FEEDS)), data=st.data())
def test_an_unknown_member_of_any_value_checks_as_the_reference_way(
    feed: str, data: st.DataObject
) -> None:
    message = json.dumps(data.draw(st.sampled_from(EXAMPLES[feed])), ensure_ascii=False).encode()
    member = data.draw(
        st.sampled_from(
            [
                *(b"1e999", b"-1e999", b"1E+0400", b"9" * 400, b"1" * 250 + b"e99", b'"\xff"'),
                *(b'"\\ud800"', b"NaN", b"[1,]", b'"a\nb"', b"1e308", b"123456789012345678901234"),
            ]
        )
        | JSON_VALUES.map(_json)
    )
    raw = message[:-1] + b', "unknown": ' + member + b"}"
    assert _checked(feed, raw) == _reference(feed, raw)


@pytest.mark.parametrize(
    "value", [2**63, 2**64, -(2**63) - 1, 10**30, 1.0, -0.0, True, "12345\n", "1e400"]
)
def test_numbers_at_orjsons_edges_check_as_the_reference_way(value: Any) -> None:
    for feed, messages in EXAMPLES.items():
        for key in messages[0]:
            raw = _json({**messages[0], key: value})
            assert _checked(feed, raw) == _reference(feed, raw), (feed, key)


def test_a_duplicated_member_checks_as_the_reference_way() -> None:
    raw = b'{"ma_tram": 5, ' + _json(EXAMPLES["salinity"][0])[1:]
    assert _checked("salinity", raw) == _reference("salinity", raw)
    raw = _json(EXAMPLES["salinity"][0])[:-1] + b', "ma_tram": 5}'
    assert _checked("salinity", raw) == _reference("salinity", raw)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {}}},  # any type
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
        {"type": "object", "required": ["b"], "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"a": {"type": "string", "format": "regex"}}},
        {"type": "object", "properties": {"a": {"enum": [1, 2]}}},
    ],
)
def test_a_schema_it_cannot_express_exactly_gets_no_typed_decoder(schema: dict[str, Any]) -> None:
    assert typed_decoder(schema, []) is None


def test_a_mapping_that_reads_an_undeclared_path_gets_no_typed_decoder() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert typed_decoder(schema, ["a"]) is not None
    assert typed_decoder(schema, ["b"]) is None
    assert typed_decoder(schema, ["a.b"]) is None
