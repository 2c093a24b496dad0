"""A feed's field catalogue: the leaf fields of its message, the one home for "what a feed's
message holds" that spreadsheet uploads, templates and their pages read.

Each leaf of the feed's ``schema.json`` is a field named by its dotted path (``ho_so.tiep_nhan``,
``lanes[].vehicles`` inside a list), titled by the JSON Schema ``title`` keyword on its property
(Vietnamese, as a province's template heads the column), with the aliases ``feed.yaml`` lists
for it (``aliases: {ho_so.tiep_nhan: ["Tiếp nhận"]}``): data, not code. A column header names a
field by any of the three (``named``), compared without case, accents kept, spaces collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from services.common.feeds import FeedDefinition

JsonType = Literal["string", "integer", "number", "boolean"]
_JSON_TYPES: tuple[JsonType, ...] = ("string", "integer", "number", "boolean")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class FeedField:
    """One leaf of a feed's message."""

    path: str  # dotted, as feed.yaml names it: "ho_so.tiep_nhan", "lanes[].vehicles"
    title: str  # the schema's title for it; the path itself where the schema gives none
    aliases: tuple[str, ...]
    type: JsonType
    enum: tuple[str | int | float, ...] | None
    minimum: float | None
    maximum: float | None
    required: bool  # the message must hold it (its parents required too)
    time_format: str | None  # the feed's time format ("date", "iso8601", …) on its time field
    decimal_comma: bool = False  # text holding a number with a decimal comma ("12,4")
    pattern: str | None = None  # the schema's pattern for a string, if any
    unit: str = ""  # the unit of the metric it feeds, where it feeds one as it is (unscaled)

    @property
    def is_time(self) -> bool:
        return self.time_format is not None

    @property
    def names(self) -> tuple[str, ...]:
        """Every header that names this field: its path, its title, its aliases."""
        return (self.path, self.title, *self.aliases)


def header_key(text: str) -> str:
    """How a header is compared with a field's names: NFC, case-folded, spaces collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip().casefold()


def fields_of(definition: FeedDefinition) -> tuple[FeedField, ...]:
    """The feed's leaf fields in the schema's order. Raises ValueError where feed.yaml's
    aliases name no field, or two fields share a name (a header would be ambiguous)."""
    aliases = definition.aliases
    metrics = {metric.field: metric for metric in definition.metrics}
    fields = []
    for path, schema, required in _leaves(definition.schema, "", required=True):
        metric = metrics.get(path)
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        unit = ""
        if metric is not None and metric.scale is None and metric.reduce is None:
            unit = metric.unit
            if metric.bounds is not None and metric.parse != "text":
                low, high = metric.bounds
                minimum = low if minimum is None else max(minimum, low)
                maximum = high if maximum is None else min(maximum, high)
        enum = schema.get("enum")
        fields.append(
            FeedField(
                path=path,
                title=str(schema.get("title") or path),
                aliases=aliases.get(path, ()),
                type=_type_of(path, schema),
                enum=tuple(enum) if enum is not None else None,
                minimum=None if minimum is None else float(minimum),
                maximum=None if maximum is None else float(maximum),
                required=required,
                time_format=definition.time.format if path == definition.time.field else None,
                decimal_comma=metric is not None and metric.parse == "decimal_comma",
                pattern=schema.get("pattern"),
                unit=unit,
            )
        )
    catalogue = tuple(fields)
    unknown = sorted(set(aliases) - {field.path for field in catalogue})
    if unknown:
        raise ValueError(f"aliases name no field of the schema: {', '.join(unknown)}")
    named(catalogue)  # refuses two fields answering to one header
    return catalogue


def named(fields: tuple[FeedField, ...]) -> Mapping[str, FeedField]:
    """The fields by every name a header may give them (``header_key`` of it). Raises
    ValueError where one name would mean two fields."""
    by_name: dict[str, FeedField] = {}
    for field in fields:
        for name in field.names:
            key = header_key(name)
            other = by_name.setdefault(key, field)
            if other is not field:
                raise ValueError(f"{name!r} names both {other.path} and {field.path}")
    return by_name


def _leaves(
    schema: Mapping[str, Any], prefix: str, *, required: bool
) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """(path, schema, required) of every leaf under an object schema."""
    needed = set(schema.get("required", ()))
    for name, child in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        child_required = required and name in needed
        if child.get("type") == "object" or "properties" in child:
            yield from _leaves(child, f"{path}.", required=child_required)
        elif child.get("type") == "array":
            items = child.get("items") or {}
            at_least_one = child_required and int(child.get("minItems", 0)) > 0
            if items.get("type") == "object" or "properties" in items:
                yield from _leaves(items, f"{path}[].", required=at_least_one)
            else:
                raise ValueError(f"{path}: a list of plain values is not a field a cell holds")
        else:
            yield path, child, child_required


def _type_of(path: str, schema: Mapping[str, Any]) -> JsonType:
    kind = schema.get("type")
    if kind is None and "enum" in schema:
        kinds = {type(value) for value in schema["enum"]}
        kind = {str: "string", int: "integer", float: "number", bool: "boolean"}.get(
            kinds.pop() if len(kinds) == 1 else type(None)
        )
    if kind not in _JSON_TYPES:
        raise ValueError(f"{path}: a field must be one of {', '.join(_JSON_TYPES)}, got {kind!r}")
    found: JsonType = kind
    return found
