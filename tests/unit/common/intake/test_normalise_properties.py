"""Properties of the normalisers over generated input (hypothesis): whatever a department
sends, normalising gives a canonical record or a rejection with a reason, never an exception,
always the same for the same message; times in any zone land on the same UTC instant; units
convert exactly."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.canonical import Normalised, Rejection
from services.common.feeds import load_feeds
from services.common.intake.normalise import Normaliser
from tests.conftest import SCHEMAS_DIR

FEEDS = load_feeds(SCHEMAS_DIR)
NORMALISERS = {name: Normaliser(feed) for name, feed in FEEDS.items()}
EXAMPLES = {
    name: [json.loads(line) for line in feed.examples_path.read_text().splitlines() if line]
    for name, feed in FEEDS.items()
}
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True)

# Anything JSON can hold, and what it cannot (NaN, infinities), and odd unicode.
ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "N/A", "9,2,1", "١٢", "1e999", "-0", "  7 ", "\u200b", "2026-13-45", "🌊", "CM\x00"]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | ODD_TEXT,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _paths(message: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    paths: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(message, dict):
        for key, value in message.items():
            paths += _paths(value, (*prefix, key))
    elif isinstance(message, list):
        for index, value in enumerate(message):
            paths += _paths(value, (*prefix, index))
    return paths


def _replaced(message: Any, path: tuple[str | int, ...], value: Any) -> Any:
    changed = copy.deepcopy(message)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _outcome(feed: str, message: Any) -> Normalised | Rejection:
    outcome = NORMALISERS[feed](copy.deepcopy(message))
    assert isinstance(outcome, Normalised | Rejection)
    return outcome


def _assert_sane(outcome: Normalised | Rejection) -> None:
    if isinstance(outcome, Rejection):
        assert outcome.reason.strip(), "a rejection always says why"
        return
    assert outcome.ts.tzinfo is not None
    # Storable: PostgreSQL text and jsonb hold no NUL (one would fail its batch for ever).
    texts = [outcome.entity, *outcome.attributes.values()]
    for observation in outcome.observations:
        assert observation.value is None or math.isfinite(observation.value)
        texts.append(observation.text or "")
    assert not any("\x00" in text for text in texts)


@PROPERTY
@given(feed=st.sampled_from(sorted(FEEDS)), data=st.data())
def test_any_field_of_a_real_message_replaced_by_anything_gives_a_record_or_a_reason(
    feed: str, data: st.DataObject
) -> None:
    message = data.draw(st.sampled_from(EXAMPLES[feed]))
    path = data.draw(st.sampled_from(_paths(message)))
    mutated = _replaced(message, path, data.draw(JSON_VALUES))
    first = _outcome(feed, mutated)
    assert _outcome(feed, mutated) == first  # deterministic
    _assert_sane(first)


@PROPERTY
@given(feed=st.sampled_from(sorted(FEEDS)), message=JSON_VALUES)
def test_anything_at_all_is_rejected_with_a_reason_or_normalised(feed: str, message: Any) -> None:
    _assert_sane(_outcome(feed, message))


@PROPERTY
@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
    )
)
def test_an_iso_time_in_any_zone_lands_on_the_same_utc_instant(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    message = {**EXAMPLES["air-quality"][0], "timestamp": moment.isoformat()}
    outcome = _outcome("air-quality", message)
    assert isinstance(outcome, Normalised), outcome
    assert outcome.ts == moment.astimezone(UTC)


@PROPERTY
@given(
    centimetres=st.integers(min_value=-500, max_value=1000),
    whole=st.integers(min_value=0, max_value=60),
    tenths=st.integers(min_value=0, max_value=9),
)
def test_units_convert_exactly_centimetres_to_metres_and_decimal_commas(
    centimetres: int, whole: int, tenths: int
) -> None:
    salinity = f"{whole},{tenths}"
    message = {**EXAMPLES["salinity"][0], "muc_nuoc_cm": centimetres, "do_man_phan_nghin": salinity}
    outcome = _outcome("salinity", message)
    in_bounds = -5 <= centimetres / 100 <= 10 and whole * 10 + tenths <= 600
    if not in_bounds:
        assert isinstance(outcome, Rejection)
        return
    assert isinstance(outcome, Normalised), outcome
    values = {o.metric: o.value for o in outcome.observations}
    assert values["water_level_m"] == centimetres / 100
    assert values["salinity_ppt"] == float(f"{whole}.{tenths}")
