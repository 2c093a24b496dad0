"""Department message in, canonical rows out: pure, with no I/O, no clock and no settings.

A feed definition is compiled once into a ``Normaliser``; calling it on a decoded message gives a
``Normalised`` record or a ``Rejection`` naming what is wrong.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from services.common.canonical import Normalised, Observation, Rejection
from services.common.feeds import FeedDefinition, LocationSpec, MetricSpec, TimeSpec
from services.common.intake.typed_decoder import typed_decoder
from services.common.paths import PathMissing, path_reader

_T = TypeVar("_T")
LONGEST_NAME = 256  # characters of an entity id or an attribute


class Unmappable(ValueError):
    """The message passed its schema but cannot be mapped to the data dictionary."""


class Normaliser:
    def __init__(self, definition: FeedDefinition) -> None:
        self.definition = definition
        # Compiled to Python code: the fast path for the valid majority. The reference
        # validator only runs on failure, to name the problem well.
        self._is_valid = fastjsonschema.compile(definition.schema)
        self._explain = Draft202012Validator(definition.schema)
        self._read_entity = path_reader(definition.entity)
        self._read_time = _time_reader(definition.time)
        self._attributes = tuple(
            (name, path, path_reader(path)) for name, path in definition.attributes.items()
        )
        self._metrics = tuple((spec.name, _metric_reader(spec)) for spec in definition.metrics)
        self._read_location = _location_reader(definition.location)
        self._typed = typed_decoder(definition.schema, _paths_read(definition))

    def __call__(self, message: object) -> Normalised | Rejection:
        if not isinstance(message, dict):
            return Rejection(f"expected a JSON object, got {type(message).__name__}")
        try:
            self._is_valid(message)
        except fastjsonschema.JsonSchemaException as invalid:
            return Rejection(f"schema: {self._explanation(message, invalid)}")
        try:
            return self._map(message)
        except (Unmappable, PathMissing) as unmappable:
            return Rejection(f"mapping: {unmappable}")

    def from_bytes(self, value: bytes | None) -> Normalised | Rejection | None:
        """A record's value decoded, validated and normalised, where the feed's typed decoder
        takes it; None where it does not (or the feed has none): the reference way (``decode``,
        then calling the normaliser) decides then, and words any rejection."""
        if self._typed is None or value is None:
            return None
        message = self._typed(value)
        if message is None:
            return None
        try:
            return self._map(message)
        except (Unmappable, PathMissing) as unmappable:
            return Rejection(f"mapping: {unmappable}")

    def entity_of(self, message: object) -> str | None:
        """The message's entity as normalising reads it, or None where it has none readable.
        A record's Kafka key: every record of an entity on one partition, in order, whoever
        sends it (push, simulator, `ioc produce`, a replay of the quarantine)."""
        try:
            return _scalar_text(self._read_entity(message), self.definition.entity)
        except (Unmappable, PathMissing):
            return None

    def event_time_of(self, message: object) -> datetime | None:
        """The message's event time (UTC) as normalising reads it, or None where it has none
        readable: what a pull connector's ``since`` follows when it follows the feed's time."""
        if not isinstance(message, dict):
            return None
        try:
            return self._read_time(message)
        except (Unmappable, PathMissing):
            return None

    def _explanation(self, message: object, invalid: fastjsonschema.JsonSchemaException) -> str:
        error = best_match(self._explain.iter_errors(message))
        if error is None:  # a check only the compiled validator makes (a string's format)
            return str(invalid.message).removeprefix("data.").removeprefix("data ")
        where = "/".join(str(p) for p in error.absolute_path) or "(message)"
        return f"{where}: {error.message}"

    def _map(self, message: dict[str, Any]) -> Normalised:
        feed = self.definition.feed
        entity = _scalar_text(self._read_entity(message), self.definition.entity)
        ts = self._read_time(message)
        attributes = {}
        for name, path, read in self._attributes:
            try:
                value = read(message)
            except PathMissing:
                continue  # attributes are optional
            attributes[name] = _scalar_text(value, path)
        if self._read_location is not None:
            attributes.update(self._read_location(message))
        observations = []
        for name, read_metric in self._metrics:
            reading = read_metric(message)
            if reading is None:
                continue
            if isinstance(reading, float):  # positional: a tuple's keywords cost a third more
                observations.append(Observation(feed, entity, name, ts, reading, None))
            else:
                _refuse_nul(reading, name)
                observations.append(Observation(feed, entity, name, ts, None, reading))
        return Normalised(feed, entity, ts, attributes, tuple(observations))


def _paths_read(definition: FeedDefinition) -> list[str]:
    """Every dotted path normalising reads from a message."""
    paths = [definition.entity, definition.time.field, *definition.attributes.values()]
    for spec in definition.metrics:
        paths += [spec.field] if spec.weight is None else [spec.field, spec.weight]
    if definition.location is not None:
        paths += [definition.location.lat, definition.location.lon]
    return paths


def _scalar_text(value: Any, path: str) -> str:
    if type(value) is str:  # the common case, checked in one go
        text = value.strip()
        if text and len(text) <= LONGEST_NAME and "\x00" not in text:
            return text
    return _checked_text(value, path)


def _checked_text(value: Any, path: str) -> str:
    """``_scalar_text``'s rules one by one, to say which one a value breaks."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Unmappable(f"{path} must be a string or an integer")
    text = str(value).strip()
    if not text:
        raise Unmappable(f"{path} is empty")
    if len(text) > LONGEST_NAME:
        # Identifiers are indexed, and a btree entry has a size limit: a longer one would fail
        # its batch for ever. No commune code or station id comes near this.
        raise Unmappable(f"{path} is longer than {LONGEST_NAME} characters")
    _refuse_nul(text, path)
    return text


def _location_reader(
    spec: LocationSpec | None,
) -> Callable[[dict[str, Any]], dict[str, str]] | None:
    """The entity's coordinates as the attributes ``lat`` and ``lon`` (decimal degrees, WGS 84),
    or none where the message gives none; a coordinate off the globe is unmappable."""
    if spec is None:
        return None
    readers = (
        ("lat", spec.lat, path_reader(spec.lat), 90.0),
        ("lon", spec.lon, path_reader(spec.lon), 180.0),
    )

    def read(message: dict[str, Any]) -> dict[str, str]:
        coordinates = {}
        for name, path, read_one, limit in readers:
            try:
                value = read_one(message)
            except PathMissing:
                return {}  # where an entity is, is optional
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Unmappable(f"{path} must be a number of degrees")
            if not -limit <= value <= limit:
                raise Unmappable(f"{path} {value} is outside [-{limit:g}, {limit:g}]")
            coordinates[name] = repr(float(value))
        return coordinates

    return read


def _refuse_nul(text: str, path: str) -> None:
    # PostgreSQL text and jsonb cannot hold NUL: let through, one such record would fail its
    # whole batch again and again.
    if "\x00" in text:
        raise Unmappable(f"{path} contains a NUL character (U+0000), which cannot be stored")


# --- time ------------------------------------------------------------------------------------
def _time_reader(spec: TimeSpec) -> Callable[[dict[str, Any]], datetime]:
    parse = _time_parser(spec)
    read_raw = path_reader(spec.field)

    def read(message: dict[str, Any]) -> datetime:
        raw = read_raw(message)
        if isinstance(raw, str | int) and not isinstance(raw, bool):
            return to_utc(raw)  # many entities report the same instant: parse it once
        return convert(raw)

    @functools.lru_cache(maxsize=4096)
    def to_utc(raw: str | int) -> datetime:
        return convert(raw)

    def convert(raw: Any) -> datetime:
        try:
            local = parse(raw)
        except (TypeError, ValueError, OverflowError, OSError) as error:
            raise Unmappable(f"{spec.field}: cannot read time {raw!r} ({error})") from None
        if local.tzinfo is None:
            if spec.zone is None:
                raise Unmappable(f"{spec.field}: time {raw!r} has no UTC offset")
            local = local.replace(tzinfo=spec.zone)
        return local.astimezone(UTC)

    return read


def _time_parser(spec: TimeSpec) -> Callable[[Any], datetime]:
    if spec.format == "iso8601":
        return lambda raw: datetime.fromisoformat(_require(raw, str))
    if spec.format == "epoch_ms":
        return lambda raw: datetime.fromtimestamp(_require(raw, int) / 1000, tz=UTC)
    if spec.format == "date":

        def parse_date(raw: Any) -> datetime:
            day = date.fromisoformat(_require(raw, str))
            return datetime(day.year, day.month, day.day)

        return parse_date
    pattern = spec.format
    return lambda raw: datetime.strptime(_require(raw, str), pattern)


def _require(raw: Any, kind: type[_T]) -> _T:
    if isinstance(raw, bool) or not isinstance(raw, kind):
        raise TypeError(f"expected {kind.__name__}")
    checked: _T = raw
    return checked


# --- metrics ---------------------------------------------------------------------------------
MetricReading = float | str | None


def _metric_reader(spec: MetricSpec) -> Callable[[dict[str, Any]], MetricReading]:
    read_raw = path_reader(spec.field)
    read_weight = path_reader(spec.weight) if spec.weight else None
    # Integers scaled by a power of ten (cm to m) divide exactly-rounded in floats; anything else
    # goes through Decimal, so "12,4" or a weighted mean is the number a person would compute.
    reciprocal = 1 / spec.scale if spec.scale else None
    divisor = int(reciprocal) if reciprocal is not None and reciprocal == int(reciprocal) else None

    def read(message: dict[str, Any]) -> MetricReading:
        raw = read_raw(message)
        if spec.parse == "text":
            return _state(raw, spec)
        if spec.reduce is None:
            if type(raw) is int and (spec.scale is None or divisor is not None):
                return _checked(raw / divisor if divisor else float(raw), raw, spec)
            if type(raw) is float and spec.scale is None:
                return _checked(raw, raw, spec)
            if isinstance(raw, str) and raw.strip() in spec.no_reading:
                return None
            if type(raw) is str and spec.scale is None:
                value = _float_of(raw, spec)
                if value is not None:
                    return _checked(value, raw, spec)
            number = _number(raw, spec)
        elif spec.reduce == "sum":
            if spec.scale is None and _small_integers(raw):
                return _checked(float(sum(raw)), raw, spec)  # exact: no Decimal needed
            number = sum((_number(item, spec) for item in _as_list(raw, spec)), Decimal(0))
        else:
            assert read_weight is not None, "feed definitions require a weight for weighted_mean"
            mean = _weighted_mean(raw, read_weight(message), spec)
            if mean is None:  # no vehicles at all: no speed to report
                return None
            number = mean
        if spec.scale is not None:
            number *= spec.scale
        return _checked(float(number), raw, spec)

    if spec.parse == "text" or spec.reduce is not None:
        return read
    # The common case first, checked in one go: a JSON number, unscaled or scaled exactly.
    low, high = spec.bounds or (-sys.float_info.max, sys.float_info.max)  # finite, so in bounds
    exact = spec.scale is None or divisor is not None

    def read_number(message: dict[str, Any]) -> MetricReading:
        raw = read_raw(message)
        kind = type(raw)
        if kind is float and spec.scale is None:
            value = raw
        elif kind is int and exact:
            value = raw / divisor if divisor else float(raw)
        else:
            return read(message)
        return value if low <= value <= high else _checked(value, raw, spec)

    return read_number


def _state(raw: Any, spec: MetricSpec) -> str:
    text = _scalar_text(raw, spec.field)
    if spec.values is None:
        return text
    if text not in spec.values:
        raise Unmappable(f"{spec.field}: unknown value {text!r}")
    return spec.values[text]


def _checked(value: float, raw: Any, spec: MetricSpec) -> float:
    if not math.isfinite(value):
        raise Unmappable(f"{spec.field}: {raw!r} is not a finite number")
    if spec.bounds is not None and not spec.bounds[0] <= value <= spec.bounds[1]:
        low, high = spec.bounds
        raise Unmappable(f"{spec.name} = {value:g} {spec.unit} is outside [{low:g}, {high:g}]")
    return value


def _float_of(raw: str, spec: MetricSpec) -> float | None:
    """A number written as text, read by float() where that is the float Decimal would give
    (both round the written decimal correctly), at half the cost; None where it is not plainly
    such a number (non-finite, grouped by "_", not a number), for ``_number`` to judge."""
    text = raw.strip()
    if spec.parse == "decimal_comma":
        text = text.replace(",", ".")
    if "_" in text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _small_integers(raw: Any) -> bool:
    """A non-empty list of integers whose sum a float holds exactly, as Decimal would."""
    return (
        type(raw) is list
        and bool(raw)
        and all(type(item) is int and -(2**48) < item < 2**48 for item in raw)
    )


def _number(raw: Any, spec: MetricSpec) -> Decimal:
    if isinstance(raw, bool):
        raise Unmappable(f"{spec.field}: {raw!r} is not a number")
    if spec.parse == "decimal_comma" and isinstance(raw, str):
        raw = raw.strip().replace(",", ".")
    if not isinstance(raw, int | float | str):
        raise Unmappable(f"{spec.field}: {raw!r} is not a number")
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        raise Unmappable(f"{spec.field}: {raw!r} is not a number") from None
    if not number.is_finite():
        raise Unmappable(f"{spec.field}: {raw!r} is not a finite number")
    return number


def _decimal(item: Any, spec: MetricSpec) -> Decimal:
    """``_number`` for the common case, a JSON number, in one step: the same Decimal."""
    kind = type(item)
    if kind is int:
        return Decimal(item)
    if kind is float and math.isfinite(item):
        return Decimal(repr(item))
    return _number(item, spec)


def _as_list(raw: Any, spec: MetricSpec) -> list[Any]:
    if not isinstance(raw, list):
        raise Unmappable(f"{spec.field} must read a list to {spec.reduce}")
    return raw


def _weighted_mean(raw: Any, raw_weights: Any, spec: MetricSpec) -> Decimal | None:
    values = [_decimal(item, spec) for item in _as_list(raw, spec)]
    weights = [_decimal(item, spec) for item in _as_list(raw_weights, spec)]
    total = sum(weights, Decimal(0))
    if total == 0:
        return None
    return sum((v * w for v, w in zip(values, weights, strict=True)), Decimal(0)) / total
