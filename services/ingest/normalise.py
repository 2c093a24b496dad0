"""Department message in, canonical rows out: pure, with no I/O, no clock and no settings.

A feed definition is compiled once into a ``Normaliser``; calling it on a decoded message gives a
``Normalised`` record or a ``Rejection`` naming what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from services.common.canonical import Normalised, Observation, Rejection
from services.common.feeds import FeedDefinition, MetricSpec, TimeSpec

_T = TypeVar("_T")


class Unmappable(ValueError):
    """The message passed its schema but cannot be mapped to the data dictionary."""


class Normaliser:
    def __init__(self, definition: FeedDefinition) -> None:
        self.definition = definition
        # Compiled to Python code: the fast path for the valid majority. The reference
        # validator only runs on failure, to name the problem well.
        self._is_valid = fastjsonschema.compile(definition.schema)
        self._explain = Draft202012Validator(definition.schema)
        self._read_time = _time_reader(definition.time)
        self._metrics = tuple((spec, _metric_reader(spec)) for spec in definition.metrics)

    def __call__(self, message: object) -> Normalised | Rejection:
        if not isinstance(message, dict):
            return Rejection(f"expected a JSON object, got {type(message).__name__}")
        try:
            self._is_valid(message)
        except fastjsonschema.JsonSchemaException as invalid:
            return Rejection(f"schema: {self._explanation(message, invalid)}")
        try:
            return self._map(message)
        except Unmappable as unmappable:
            return Rejection(f"mapping: {unmappable}")

    def _explanation(self, message: object, invalid: fastjsonschema.JsonSchemaException) -> str:
        error = best_match(self._explain.iter_errors(message))
        if error is None:  # a check only the compiled validator makes (a string's format)
            return str(invalid.message).removeprefix("data.").removeprefix("data ")
        where = "/".join(str(p) for p in error.absolute_path) or "(message)"
        return f"{where}: {error.message}"

    def _map(self, message: dict[str, Any]) -> Normalised:
        feed = self.definition.feed
        entity = _scalar_text(_read(message, self.definition.entity), self.definition.entity)
        ts = self._read_time(message)
        attributes = {
            name: _scalar_text(_read(message, path), path)
            for name, path in self.definition.attributes.items()
            if _has(message, path)
        }
        observations = []
        for spec, read_metric in self._metrics:
            reading = read_metric(message)
            if reading is None:
                continue
            if isinstance(reading, str):
                observations.append(Observation(feed, entity, spec.name, ts, text=reading))
            else:
                observations.append(Observation(feed, entity, spec.name, ts, value=reading))
        return Normalised(feed, entity, ts, attributes, tuple(observations))


# --- reading paths ---------------------------------------------------------------------------
def _read(message: Any, path: str) -> Any:
    """Read a dotted path; ``lanes[].vehicles`` gives the list of every lane's vehicles."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = _read(message, head[:-2])
        if not isinstance(items, list) or not items:
            raise Unmappable(f"{head[:-2]} must be a non-empty list")
        return [_read(item, rest) if rest else item for item in items]
    if not isinstance(message, dict) or head not in message:
        raise Unmappable(f"{path} is missing")
    value = message[head]
    return _read(value, rest) if rest else value


def _has(message: Any, path: str) -> bool:
    try:
        _read(message, path)
    except Unmappable:
        return False
    return True


def _scalar_text(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Unmappable(f"{path} must be a string or an integer")
    text = str(value).strip()
    if not text:
        raise Unmappable(f"{path} is empty")
    return text


# --- time ------------------------------------------------------------------------------------
def _time_reader(spec: TimeSpec) -> Callable[[dict[str, Any]], datetime]:
    parse = _time_parser(spec)

    def read(message: dict[str, Any]) -> datetime:
        raw = _read(message, spec.field)
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
    def read(message: dict[str, Any]) -> MetricReading:
        raw = _read(message, spec.field)
        if spec.parse == "text":
            text = _scalar_text(raw, spec.field)
            if spec.values is None:
                return text
            if text not in spec.values:
                raise Unmappable(f"{spec.field}: unknown value {text!r}")
            return spec.values[text]
        if spec.reduce is None:
            if isinstance(raw, str) and raw.strip() in spec.no_reading:
                return None
            number = _number(raw, spec)
        elif spec.reduce == "sum":
            number = sum((_number(item, spec) for item in _as_list(raw, spec)), Decimal(0))
        else:
            mean = _weighted_mean(raw, spec, message)
            if mean is None:  # no vehicles at all: no speed to report
                return None
            number = mean
        if spec.scale is not None:
            number *= spec.scale
        value = float(number)
        if not math.isfinite(value):
            raise Unmappable(f"{spec.field}: {raw!r} is not a finite number")
        if spec.bounds is not None and not spec.bounds[0] <= value <= spec.bounds[1]:
            low, high = spec.bounds
            raise Unmappable(f"{spec.name} = {value:g} {spec.unit} is outside [{low:g}, {high:g}]")
        return value

    return read


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


def _as_list(raw: Any, spec: MetricSpec) -> list[Any]:
    if not isinstance(raw, list):
        raise Unmappable(f"{spec.field} must read a list to {spec.reduce}")
    return raw


def _weighted_mean(raw: Any, spec: MetricSpec, message: dict[str, Any]) -> Decimal | None:
    if spec.weight is None:
        raise Unmappable(f"{spec.name}: weighted_mean needs a weight path")
    values = [_number(item, spec) for item in _as_list(raw, spec)]
    weights = [_number(item, spec) for item in _as_list(_read(message, spec.weight), spec)]
    total = sum(weights, Decimal(0))
    if total == 0:
        return None
    return sum((v * w for v, w in zip(values, weights, strict=True)), Decimal(0)) / total
