"""What a SensorThings request asks: its resource path (``Things(5)/Datastreams``,
``Datastreams(3)/Thing/name/$value``, ``.../$ref``) and its query options (``$top $skip $count
$select $orderby $expand $filter``), parsed and checked against the entity types before any SQL
is built. A malformed request raises ``QueryError`` saying what is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.api.sta.entities import EntityType, Property
from services.api.sta.filter import Node, QueryError, bigint, parse

DEFAULT_TOP = 100
MAX_NAMES = 64  # distinct names in $select, $orderby or $expand: more than any entity has
_WHOLE_NUMBER = re.compile(r"[0-9]+")  # ASCII: str.isdigit() takes "²", which int() refuses
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<id>[^)]*)\))?$")
_OPTIONS = {"$top", "$skip", "$count", "$select", "$orderby", "$expand", "$filter", "$skiptoken"}


@dataclass(frozen=True, slots=True)
class Step:
    """One entity set on the way: reached through ``relation`` from the step before (None for
    the first), narrowed to one entity where ``entity_id`` is given."""

    entity: EntityType
    relation: str | None
    entity_id: int | None


@dataclass(frozen=True, slots=True)
class ResourcePath:
    steps: tuple[Step, ...]
    single: bool  # an entity (by id or through a to-one relation), not a collection
    member: Property | None = None  # .../name: one property of the entity
    raw_value: bool = False  # .../property/$value
    references: bool = False  # .../$ref

    @property
    def entity(self) -> EntityType:
        return self.steps[-1].entity

    @property
    def parent(self) -> ResourcePath | None:
        """The entity a related collection hangs from (``Things(5)`` of
        ``Things(5)/Datastreams``): a collection of one that is not there is not there either."""
        if self.single or len(self.steps) < 2:
            return None
        return ResourcePath(self.steps[:-1], single=True)


@dataclass(frozen=True, slots=True)
class Options:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    select: tuple[str, ...] = ()
    orderby: tuple[tuple[str, bool], ...] = ()  # (property or "id", descending)
    expand: tuple[str, ...] = ()  # relation names
    filter: Node | None = None
    skiptoken: str | None = None  # where a page starts, as the page before's nextLink says
    given: Mapping[str, str] = field(default_factory=dict)  # as the request gave them


def resource_path(path: str, types: Mapping[str, EntityType]) -> ResourcePath:
    """Parses ``path`` (without the service root) into its steps."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise QueryError("name an entity set, for example Things")
    steps: list[Step] = []
    single = False
    for index, segment in enumerate(segments):
        if segment == "$ref":
            if index != len(segments) - 1 or not steps:
                raise QueryError("$ref ends a path to entities")
            return ResourcePath(tuple(steps), single, references=True)
        match = _SEGMENT.match(segment)
        if match is None:
            raise QueryError(f"{segment!r} is not an entity set, a relation or a property")
        name, raw_id = match["name"], match["id"]
        if not steps:
            entity = types.get(name)
            if entity is None:
                raise QueryError(f"unknown entity set {name!r}; known: {', '.join(types)}")
            steps.append(Step(entity, None, _id(raw_id)))
            single = raw_id is not None
            continue
        current = steps[-1].entity
        if not single:
            raise QueryError(f"{name!r} follows a collection: name one entity by its id first")
        relation = current.relation(name)
        if relation is not None:
            if raw_id is not None and not relation.many:
                raise QueryError(f"{name} is a single entity: it takes no id")
            steps.append(Step(types[relation.target], name, _id(raw_id)))
            single = not relation.many or raw_id is not None
            continue
        prop = current.property(name)
        if prop is None or raw_id is not None:
            raise QueryError(f"{current.singular} has no relation or property {segment!r}")
        rest = segments[index + 1 :]
        if rest not in ([], ["$value"]):
            raise QueryError(f"only $value may follow the property {name}")
        return ResourcePath(tuple(steps), single, member=prop, raw_value=rest == ["$value"])
    return ResourcePath(tuple(steps), single)


def _id(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"an id is an integer, not {raw!r}") from None


def options(query: Mapping[str, str], entity: EntityType, *, max_top: int) -> Options:
    """The query options of a request on ``entity``'s entity set; ``$top`` at most ``max_top``."""
    unknown = [name for name in query if name.startswith("$") and name not in _OPTIONS]
    if unknown:
        raise QueryError(f"unknown query option {unknown[0]}")
    return Options(
        top=min(_count_of(query, "$top", DEFAULT_TOP), max_top),
        skip=_count_of(query, "$skip", 0),
        count=_flag(query.get("$count", "false")),
        select=_selection(query.get("$select"), entity),
        orderby=_ordering(query.get("$orderby"), entity),
        expand=_expansion(query.get("$expand"), entity),
        filter=parse(query["$filter"]) if "$filter" in query else None,
        skiptoken=query.get("$skiptoken"),
        given=dict(query),
    )


def _count_of(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise QueryError(f"{name} must be a whole number, not {raw!r}")
    return bigint(raw, name)


def _flag(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise QueryError(f"$count must be true or false, not {raw!r}")
    return raw == "true"


def _names(raw: str, option: str) -> list[str]:
    """The comma-separated names of ``option``, each once, in the order first given."""
    names = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if len(names) > MAX_NAMES:
        raise QueryError(f"{option}: more than {MAX_NAMES} distinct names")
    return names


def _selection(raw: str | None, entity: EntityType) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = _names(raw, "$select")
    for name in names:
        if (
            name not in ("id", "@iot.id")
            and not entity.property(name)
            and not entity.relation(name)
        ):
            raise QueryError(f"$select: {entity.singular} has no property {name!r}")
    return tuple(dict.fromkeys("id" if name == "@iot.id" else name for name in names))


def _ordering(raw: str | None, entity: EntityType) -> tuple[tuple[str, bool], ...]:
    if raw is None:
        return ()
    ordering = []
    for part in _names(raw, "$orderby"):
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if direction not in ("asc", "desc"):
            raise QueryError(f"$orderby: {direction!r} is not asc or desc")
        name = "id" if name == "@iot.id" else name
        prop = entity.property(name)
        if name != "id" and (prop is None or prop.kind == "json"):
            raise QueryError(f"$orderby: {entity.singular} cannot be ordered by {name!r}")
        ordering.append((name, direction == "desc"))
    return tuple(ordering)


def _expansion(raw: str | None, entity: EntityType) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = _names(raw, "$expand")
    for name in names:
        if entity.relation(name) is None:
            raise QueryError(
                f"$expand: {entity.singular} has no relation {name!r} "
                "(one level, without nested options)"
            )
    return tuple(names)
