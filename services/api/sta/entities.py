"""The SensorThings data model over the store: each entity type, its properties, its relations and
the SQL it is read from. One object per entity type; the paths, the query options and the
renderer only ask these objects.

How the store becomes SensorThings (OGC 15-078r6):
- a **Thing** is a feed's entity (a station, a hospital, a ward, a task), numbered in
  ``sta_things``; its **Location**, **HistoricalLocation** and **FeatureOfInterest** share its id:
  a GeoJSON point where the feed gives coordinates, else an unlocated GeoJSON feature that names
  what places it (its commune/ward, road or name);
- a **Datastream** is a thing's metric (``sta_datastreams``), a **Sensor** a feed (the department's
  system), an **ObservedProperty** a feed's metric of the data dictionary, with its unit;
- an **Observation** is a stored event row: phenomenonTime its event time, resultTime when it was
  stored, a number or a text state as its result. Its id packs its datastream's id and its event
  time in milliseconds since 2000 (see ``OBSERVATION_TIME_BITS``), so it needs no column.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, DateTime, Float, Text, and_, column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.selectable import Subquery

from services.common.feeds import FeedDefinition
from services.common.tables import BUCKET_ORIGIN, BUCKET_ORIGIN_SQL

PropertyKind = Literal["text", "number", "json", "time", "result"]

# An observation's id: its datastream's id shifted left by these bits, plus its event time in
# milliseconds since 2000-01-01 (UTC): 2^42 ms reach 2139, and 2^21 datastreams fit beside.
OBSERVATION_TIME_BITS = 42
OBSERVATION_TIME_ORIGIN = BUCKET_ORIGIN
OBSERVATION_TYPES = {
    False: "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
    True: "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation",
}


@dataclass(frozen=True, slots=True)
class Property:
    name: str  # as SensorThings names it
    kind: PropertyKind

    @property
    def column(self) -> str:
        return "result_number" if self.kind == "result" else self.name


@dataclass(frozen=True, slots=True)
class Relation:
    """A navigation from one entity type to another: the rows of ``target`` whose ``there``
    column equals this entity's ``here`` column."""

    name: str  # "Datastreams", "Thing"
    target: str  # the target's entity set: "Datastreams", "Things"
    here: str
    there: str

    @property
    def many(self) -> bool:
        return self.name == self.target


@dataclass(frozen=True, slots=True)
class EntityType:
    singular: str
    plural: str  # the entity set's name, and its path
    properties: tuple[Property, ...]
    relations: tuple[Relation, ...]
    source: Subquery
    order: tuple[str, ...] = ("id",)  # the columns of the id's order
    of_series: Callable[[Series], Subquery] | None = None  # Observations: one datastream's

    def property(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)

    def relation(self, name: str) -> Relation | None:
        return next((r for r in self.relations if r.name == name), None)

    def identified(self, source: Any, entity_id: int) -> ColumnElement[bool]:
        """The condition that selects one entity by its ``@iot.id``."""
        if self.plural != "Observations":
            return source.c.id == entity_id  # type: ignore[no-any-return]
        datastream, milliseconds = divmod(entity_id, 1 << OBSERVATION_TIME_BITS)
        start = OBSERVATION_TIME_ORIGIN + timedelta(milliseconds=milliseconds)
        return and_(
            source.c.datastream_id == datastream,
            source.c.phenomenonTime >= start,
            source.c.phenomenonTime < start + timedelta(milliseconds=1),
        )


def catalogue(feeds: Mapping[str, FeedDefinition]) -> dict[str, EntityType]:
    """Every entity type by its entity set's name, reading the store and the feed definitions
    (the sensors and observed properties are the feeds' own, not rows of the store)."""
    check_ids(feeds)
    feed_rows, metric_rows = _feed_rows(feeds), _metric_rows(feeds)
    sources = _sources(json.dumps(feed_rows), json.dumps(metric_rows))
    types = (
        EntityType(
            "Thing",
            "Things",
            _properties(name="text", description="text", properties="json"),
            (
                Relation("Locations", "Locations", "id", "thing_id"),
                Relation("HistoricalLocations", "HistoricalLocations", "id", "thing_id"),
                Relation("Datastreams", "Datastreams", "id", "thing_id"),
            ),
            sources["Things"],
        ),
        EntityType(
            "Location",
            "Locations",
            _properties(name="text", description="text", encodingType="text", location="json"),
            (
                Relation("Things", "Things", "thing_id", "id"),
                Relation("HistoricalLocations", "HistoricalLocations", "thing_id", "thing_id"),
            ),
            sources["Locations"],
        ),
        EntityType(
            "HistoricalLocation",
            "HistoricalLocations",
            _properties(time="time"),
            (
                Relation("Thing", "Things", "thing_id", "id"),
                Relation("Locations", "Locations", "thing_id", "thing_id"),
            ),
            sources["HistoricalLocations"],
        ),
        EntityType(
            "Datastream",
            "Datastreams",
            _properties(
                name="text",
                description="text",
                unitOfMeasurement="json",
                observationType="text",
                properties="json",
            ),
            (
                Relation("Thing", "Things", "thing_id", "id"),
                Relation("Sensor", "Sensors", "sensor_id", "id"),
                Relation("ObservedProperty", "ObservedProperties", "observed_property_id", "id"),
                Relation("Observations", "Observations", "id", "datastream_id"),
            ),
            sources["Datastreams"],
        ),
        EntityType(
            "Sensor",
            "Sensors",
            _properties(name="text", description="text", encodingType="text", metadata="text"),
            (Relation("Datastreams", "Datastreams", "id", "sensor_id"),),
            sources["Sensors"],
        ),
        EntityType(
            "ObservedProperty",
            "ObservedProperties",
            _properties(name="text", definition="text", description="text"),
            (Relation("Datastreams", "Datastreams", "id", "observed_property_id"),),
            sources["ObservedProperties"],
        ),
        EntityType(
            "Observation",
            "Observations",
            _properties(phenomenonTime="time", result="result", resultTime="time"),
            (
                Relation("Datastream", "Datastreams", "datastream_id", "id"),
                Relation("FeatureOfInterest", "FeaturesOfInterest", "foi_id", "id"),
            ),
            sources["Observations"],
            order=("datastream_id", "phenomenonTime"),
            of_series=_series_source(
                frozenset(
                    (f.feed, m.name) for f in feeds.values() for m in f.metrics if m.parse == "text"
                )
            ),
        ),
        EntityType(
            "FeatureOfInterest",
            "FeaturesOfInterest",
            _properties(name="text", description="text", encodingType="text", feature="json"),
            (Relation("Observations", "Observations", "id", "foi_id"),),
            sources["FeaturesOfInterest"],
        ),
    )
    return {entity_type.plural: entity_type for entity_type in types}


def _properties(**kinds: PropertyKind) -> tuple[Property, ...]:
    return tuple(Property(name, kind) for name, kind in kinds.items())


def stable_id(*names: str) -> int:
    """A sensor's or an observed property's id: from its names, so it never moves when a feed
    is added (``check_ids`` refuses the unlikely collision at start)."""
    return zlib.crc32("/".join(names).encode()) & 0x7FFFFFFF


def _feed_rows(feeds: Mapping[str, FeedDefinition]) -> list[dict[str, Any]]:
    return [
        {"feed": f.feed, "title": f.title, "agency": f.agency, "sensor_id": stable_id(f.feed)}
        for f in feeds.values()
    ]


def _metric_rows(feeds: Mapping[str, FeedDefinition]) -> list[dict[str, Any]]:
    return [
        {
            "feed": f.feed,
            "metric": m.name,
            "unit": m.unit,
            "text_valued": m.parse == "text",
            "property_id": stable_id(f.feed, m.name),
        }
        for f in feeds.values()
        for m in f.metrics
    ]


def check_ids(feeds: Mapping[str, FeedDefinition]) -> None:
    """Refuses a set of feeds whose sensors or observed properties would share an id."""
    ids = [row["sensor_id"] for row in _feed_rows(feeds)]
    ids += [row["property_id"] for row in _metric_rows(feeds)]
    if len(set(ids)) != len(ids):
        raise ValueError("two SensorThings sensors or observed properties share an id")


# --- SQL -------------------------------------------------------------------------------------
# The feeds' catalogue as rows, from one JSON parameter: no feed's name is pasted into SQL.
_FEEDS = """jsonb_to_recordset(CAST(:feeds AS jsonb))
    AS f (feed text, title text, agency text, sensor_id bigint)"""
_METRICS = """jsonb_to_recordset(CAST(:metrics AS jsonb))
    AS m (feed text, metric text, unit text, text_valued boolean, property_id bigint)"""
_THINGS = f"""sta_things t JOIN {_FEEDS} USING (feed)
    LEFT JOIN entities e USING (feed, entity)"""
_NAME = "coalesce(e.attributes->>'name', e.attributes->>'title', t.entity)"
# Where a thing is: a point where its feed gives coordinates, else a feature without geometry
# that says what places it (RFC 7946 allows a null geometry: an unlocated feature).
_PLACE = """CASE WHEN e.attributes ? 'lat' AND e.attributes ? 'lon' THEN
    jsonb_build_object('type', 'Point', 'coordinates', jsonb_build_array(
        (e.attributes->>'lon')::float8, (e.attributes->>'lat')::float8))
ELSE jsonb_build_object('type', 'Feature', 'geometry', NULL, 'properties',
    jsonb_build_object('feed', t.feed, 'entity', t.entity) || coalesce(e.attributes, '{}'))
END"""
_GEOJSON = "'application/vnd.geo+json'"
_OBSERVATION_ID = f"""((d.id << {OBSERVATION_TIME_BITS})
    + floor(extract(epoch FROM o.ts - {BUCKET_ORIGIN_SQL}) * 1000)::bigint)"""


@dataclass(frozen=True, slots=True)
class Series:
    """One datastream's keys, as ``sta_datastreams`` holds them."""

    datastream_id: int
    thing_id: int
    feed: str
    entity: str
    metric: str


def _series_source(text_valued: frozenset[tuple[str, str]]) -> Callable[[Series], Subquery]:
    """The observations of one datastream, read from the one event table that holds its metric
    by its whole key: the store walks that series' index in time order and stops at the page's
    end, where the general source (every series, both tables) sorts what it reads."""

    def source(series: Series) -> Subquery:
        texts = (series.feed, series.metric) in text_valued
        table, number, state = (
            ("states", "NULL::float8", "o.value")
            if texts
            else ("observations", "o.value", "NULL::text")
        )
        select = f"""SELECT ((CAST(:datastream AS bigint) << {OBSERVATION_TIME_BITS})
                + floor(extract(epoch FROM o.ts - {BUCKET_ORIGIN_SQL}) * 1000)::bigint) AS id,
            CAST(:datastream AS bigint) AS datastream_id, CAST(:thing AS bigint) AS foi_id,
            o.feed, o.ts AS "phenomenonTime", o.ingested_at AS "resultTime",
            {number} AS result_number, {state} AS result_text
            FROM {table} o WHERE o.feed = :feed AND o.entity = :entity AND o.metric = :metric"""
        clause = text(select).columns(*(column(n, _TYPES[n]) for n in _COLUMNS["Observations"]))
        return clause.bindparams(
            datastream=series.datastream_id,
            thing=series.thing_id,
            feed=series.feed,
            entity=series.entity,
            metric=series.metric,
        ).subquery("observations")

    return source


# Each source's columns, in its SELECT's order.
_COLUMNS = {
    "Things": ("id", "feed", "name", "description", "properties"),
    "Locations": ("id", "thing_id", "feed", "name", "description", "encodingType", "location"),
    "HistoricalLocations": ("id", "thing_id", "feed", "time"),
    "FeaturesOfInterest": ("id", "feed", "name", "description", "encodingType", "feature"),
    "Datastreams": (
        "id",
        "feed",
        "thing_id",
        "sensor_id",
        "observed_property_id",
        "name",
        "description",
        "unitOfMeasurement",
        "observationType",
        "properties",
    ),
    "Sensors": ("id", "feed", "name", "description", "encodingType", "metadata"),
    "ObservedProperties": ("id", "feed", "name", "definition", "description"),
    "Observations": (
        "id",
        "datastream_id",
        "foi_id",
        "feed",
        "phenomenonTime",
        "resultTime",
        "result_number",
        "result_text",
    ),
}


_TYPES: dict[str, Any] = {
    "id": BigInteger,
    "feed": Text,
    "thing_id": BigInteger,
    "sensor_id": BigInteger,
    "observed_property_id": BigInteger,
    "datastream_id": BigInteger,
    "foi_id": BigInteger,
    "name": Text,
    "description": Text,
    "encodingType": Text,
    "metadata": Text,
    "definition": Text,
    "observationType": Text,
    "properties": JSONB,
    "location": JSONB,
    "feature": JSONB,
    "unitOfMeasurement": JSONB,
    "time": DateTime(timezone=True),
    "phenomenonTime": DateTime(timezone=True),
    "resultTime": DateTime(timezone=True),
    "result_number": Float,
    "result_text": Text,
}


def _sources(feeds_json: str, metrics_json: str) -> dict[str, Subquery]:
    observations = " UNION ALL ".join(
        f"""SELECT {_OBSERVATION_ID} AS id, d.id AS datastream_id, d.thing_id AS foi_id, d.feed,
            o.ts AS "phenomenonTime", o.ingested_at AS "resultTime",
            {number} AS result_number, {state} AS result_text
        FROM sta_datastreams d
        JOIN {table} o ON o.feed = d.feed AND o.entity = d.entity AND o.metric = d.metric"""
        for table, number, state in (
            ("observations", "o.value", "NULL::text"),
            ("states", "NULL::float8", "o.value"),
        )
    )
    sql = {
        "Things": f"""SELECT t.id, t.feed, {_NAME} AS name,
            f.title || ': ' || t.entity AS description,
            jsonb_build_object('feed', t.feed, 'entity', t.entity)
                || coalesce(e.attributes, '{{}}') AS properties
            FROM {_THINGS}""",
        "Locations": f"""SELECT t.id, t.id AS thing_id, t.feed, {_NAME} AS name,
            'Where ' || {_NAME} || ' is (' || f.title || ')' AS description,
            {_GEOJSON} AS "encodingType", {_PLACE} AS location
            FROM {_THINGS}""",
        "HistoricalLocations": f"""SELECT t.id, t.id AS thing_id, t.feed, e.ts AS time
            FROM {_THINGS}""",
        "FeaturesOfInterest": f"""SELECT t.id, t.feed, {_NAME} AS name,
            'What ' || f.title || ' observes at ' || {_NAME} AS description,
            {_GEOJSON} AS "encodingType", {_PLACE} AS feature
            FROM {_THINGS}""",
        "Datastreams": f"""SELECT d.id, d.feed, d.thing_id, f.sensor_id,
            m.property_id AS observed_property_id,
            coalesce(e.attributes->>'name', e.attributes->>'title', d.entity)
                || ': ' || d.metric AS name,
            f.title || ': ' || d.metric || ' of ' || d.entity AS description,
            CASE WHEN m.text_valued
                THEN jsonb_build_object('name', NULL, 'symbol', NULL, 'definition', NULL)
                ELSE jsonb_build_object('name', m.unit, 'symbol', m.unit, 'definition', NULL)
            END AS "unitOfMeasurement",
            CASE WHEN m.text_valued THEN '{OBSERVATION_TYPES[True]}'
                ELSE '{OBSERVATION_TYPES[False]}' END AS "observationType",
            jsonb_build_object('feed', d.feed, 'entity', d.entity, 'metric', d.metric)
                AS properties
            FROM sta_datastreams d JOIN {_FEEDS} USING (feed) JOIN {_METRICS} USING (feed, metric)
            LEFT JOIN entities e USING (feed, entity)""",
        "Sensors": f"""SELECT f.sensor_id AS id, f.feed, f.title AS name,
            'The system of ' || f.agency || ' that sends feed ' || f.feed AS description,
            'text/html' AS "encodingType", '/v1/feeds' AS metadata
            FROM {_FEEDS}""",
        "ObservedProperties": f"""SELECT m.property_id AS id, m.feed, m.metric AS name,
            'urn:ioc-stream:' || m.feed || ':' || m.metric AS definition,
            f.title || ': ' || m.metric
                || CASE WHEN m.unit = '' THEN '' ELSE ' (' || m.unit || ')' END AS description
            FROM {_METRICS} JOIN {_FEEDS} USING (feed)""",
        "Observations": observations,
    }
    sources = {}
    for plural, select in sql.items():
        named = _COLUMNS[plural]
        clause = text(select).columns(*(column(name, _TYPES[name]) for name in named))
        if ":feeds" in select:
            clause = clause.bindparams(feeds=feeds_json)
        if ":metrics" in select:
            clause = clause.bindparams(metrics=metrics_json)
        sources[plural] = clause.subquery(plural.lower())
    return sources
