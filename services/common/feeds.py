"""Feed definitions: a department feed is data under ``schemas/feeds/<feed>/``.

``feed.yaml`` says who owns the feed, how often it reports and how its messages map to the data
dictionary; ``schema.json`` is the department's own message format; ``examples.ndjson`` holds real-
shaped messages. Loading validates the definition so a mistake fails at start, not mid-stream.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from services.common.feed_fields import fields_of

TimeFormat = str  # "iso8601", "epoch_ms", "date" or a strptime pattern
ParseKind = Literal["number", "decimal_comma", "text"]
Reduce = Literal["sum", "weighted_mean"]


class FeedDefinitionError(ValueError):
    """A feed definition under schemas/ is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class TimeSpec:
    field: str
    format: TimeFormat
    zone: ZoneInfo | None  # for local times without an offset


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: str
    field: str  # dotted path; "lanes[].vehicles" reads every element of a list
    parse: ParseKind = "number"
    scale: Decimal | None = None
    no_reading: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    reduce: Reduce | None = None
    weight: str | None = None  # for weighted_mean: the path of the weights
    values: dict[str, str] | None = None  # for text: department code -> canonical value


@dataclass(frozen=True, slots=True)
class LocationSpec:
    """Where a feed's messages give their entity's coordinates (WGS 84 degrees)."""

    lat: str  # dotted paths
    lon: str


@dataclass(frozen=True, slots=True)
class FeedDefinition:
    feed: str
    agency: str
    title: str
    cadence_seconds: int
    backfill_days: int  # how far back in event time a record is still accepted
    entity: str
    time: TimeSpec
    attributes: dict[str, str]
    metrics: tuple[MetricSpec, ...]
    schema: dict[str, Any]
    directory: Path
    due: datetime.time | None = None  # a daily feed's deadline (local): its figures by then
    location: LocationSpec | None = None
    public: bool = False  # open data: observations read without a key (access.readable_feeds)
    # Who answers for the records: the feed's agency, or each entity itself (a commune/ward
    # sending its own figures), a unit of schemas/units/ by its code.
    reported_by: Literal["agency", "entity"] = "agency"
    # Other headers a spreadsheet column may give a field, by its dotted path (feed_fields.py).
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def examples_path(self) -> Path:
        return self.directory / "examples.ndjson"

    @property
    def periodic(self) -> bool:
        """Readings at a cadence (numbers), not events (states of reports, of tasks): only a
        periodic feed has an expected number of records."""
        return any(metric.parse != "text" for metric in self.metrics)


def load_feeds(schemas_dir: Path) -> dict[str, FeedDefinition]:
    """Every feed under ``schemas_dir/feeds``, by name."""
    feeds: dict[str, FeedDefinition] = {}
    for feed_file in sorted((schemas_dir / "feeds").glob("*/feed.yaml")):
        definition = load_feed(feed_file.parent)
        feeds[definition.feed] = definition
    if not feeds:
        raise FeedDefinitionError(f"no feed definitions under {schemas_dir / 'feeds'}")
    return feeds


def load_feed(directory: Path) -> FeedDefinition:
    where = directory / "feed.yaml"
    raw = yaml.safe_load(where.read_text(encoding="utf-8"))
    try:
        schema = json.loads((directory / "schema.json").read_text(encoding="utf-8"))
        definition = FeedDefinition(
            feed=_text(raw, "feed"),
            agency=_text(raw, "agency"),
            title=_text(raw, "title"),
            cadence_seconds=int(raw["cadence_seconds"]),
            backfill_days=int(raw.get("backfill_days", 400)),
            entity=_text(raw, "entity"),
            time=_time_spec(raw["time"]),
            attributes={str(k): str(v) for k, v in (raw.get("attributes") or {}).items()},
            metrics=tuple(_metric_spec(m) for m in raw["metrics"]),
            schema=schema,
            directory=directory,
            due=datetime.time.fromisoformat(str(raw["due"])) if "due" in raw else None,
            location=LocationSpec(_text(raw["location"], "lat"), _text(raw["location"], "lon"))
            if "location" in raw
            else None,
            public=_flag(raw, "public"),
            reported_by=_reported_by(raw),
            aliases=_aliases(raw),
        )
        fields_of(definition)  # the catalogue: aliases of known fields, no header ambiguous
    except (KeyError, TypeError, ValueError, InvalidOperation, OSError) as error:
        raise FeedDefinitionError(f"{where}: {error!r}") from error
    if definition.feed != directory.name:
        raise FeedDefinitionError(f"{where}: feed {definition.feed!r} must match its folder name")
    return definition


def _reported_by(raw: dict[str, Any]) -> Literal["agency", "entity"]:
    value = raw.get("reported_by", "agency")
    if value == "agency":
        return "agency"
    if value == "entity":
        return "entity"
    raise ValueError(f"reported_by must be agency or entity, got {value!r}")


def _aliases(raw: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    value = raw.get("aliases") or {}
    if not isinstance(value, dict):
        raise ValueError("aliases must map dotted paths to lists of headers")
    aliases = {}
    for path, names in value.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError(f"aliases of {path!r} must be a list of non-empty strings")
        aliases[str(path)] = tuple(names)
    return aliases


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _time_spec(raw: dict[str, Any]) -> TimeSpec:
    zone_name = raw.get("zone")
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except ZoneInfoNotFoundError:
        raise ValueError(f"unknown time zone {zone_name!r}") from None
    return TimeSpec(field=_text(raw, "field"), format=_text(raw, "format"), zone=zone)


def _metric_spec(raw: dict[str, Any]) -> MetricSpec:
    parse = raw.get("parse", "number")
    if parse not in ("number", "decimal_comma", "text"):
        raise ValueError(f"metric {raw.get('name')!r}: unknown parse {parse!r}")
    reduce = raw.get("reduce")
    if reduce not in (None, "sum", "weighted_mean"):
        raise ValueError(f"metric {raw.get('name')!r}: unknown reduce {reduce!r}")
    bounds = raw.get("bounds")
    if reduce == "weighted_mean" and not raw.get("weight"):
        raise ValueError(f"metric {raw.get('name')!r}: weighted_mean needs a weight path")
    return MetricSpec(
        name=_text(raw, "name"),
        unit=str(raw.get("unit", "")),
        field=_text(raw, "field"),
        parse=parse,
        scale=Decimal(str(raw["scale"])) if "scale" in raw else None,
        no_reading=tuple(str(v) for v in raw.get("no_reading", ())),
        bounds=(float(bounds[0]), float(bounds[1])) if bounds else None,
        reduce=reduce,
        weight=raw.get("weight"),
        values={str(k): str(v) for k, v in raw["values"].items()} if "values" in raw else None,
    )
