"""The SensorThings API's SQL: a resource path becomes nested selections of the entity types'
sources, narrowed by id, by the caller's visible feeds and by ``$filter``; compiled by
SQLAlchemy into one parameterised statement for asyncpg."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from services.api.sta.entities import EntityType, Relation, Series
from services.api.sta.filter import LARGEST_INTEGER, QueryError, condition, conjuncts, may_fail
from services.api.sta.request import DEFAULT_TOP, Options, ResourcePath, Step

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]

Visible = frozenset[str] | None  # the feeds a caller may read; None: every feed


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    more: bool  # rows lie past this page
    count: int | None  # all rows matching, where $count=true asked
    skiptoken: str | None = None  # where the next page starts, where the order allows it


def compiled(statement: Any) -> tuple[str, list[Any]]:
    """SQL and its arguments for asyncpg ($1, $2, ...)."""
    query = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    return query.string, [query.params[name] for name in query.positiontup or ()]


def _narrowed(
    path: ResourcePath, types: Mapping[str, EntityType], visible: Visible
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The last step's source and the conditions that narrow it to what the path names."""
    source: Any = None
    conditions: list[ColumnElement[bool]] = []
    previous: tuple[Step, Any, list[ColumnElement[bool]]] | None = None
    for step in path.steps:
        source = step.entity.source.alias()
        conditions = _visible_in(source, visible)
        if step.entity_id is not None:
            conditions.append(step.entity.identified(source, step.entity_id))
        if previous is not None and step.relation is not None:
            before_step, before, narrowing = previous
            relation = before_step.entity.relation(step.relation)
            assert relation is not None  # checked when the path was parsed
            named = before_step.entity_id
            if relation.here == "id" and named is not None and relation.there != "id":
                # Datastreams(5)/Observations: the key itself, so the planner walks one series'
                # index. What the caller may see is the last step's feeds: related entities
                # share their feed.
                conditions.append(source.c[relation.there] == named)
            else:
                linked = select(before.c[relation.here]).where(*narrowing)
                conditions.append(source.c[relation.there].in_(linked))
        previous = (step, source, conditions)
    return source, conditions


def _visible_in(source: Any, visible: Visible) -> list[ColumnElement[bool]]:
    return [] if visible is None else [source.c.feed.in_(sorted(visible))]


# Columns that are never null: an order made of them alone, all one way, pages by the last row's
# values (``$skiptoken``) instead of ``$skip``, so a deep page costs what the first does.
_NEVER_NULL = {"id", "datastream_id", "foi_id", "thing_id", "phenomenonTime"}


def _ordering(
    entity: EntityType, order: tuple[str, ...], options: Options
) -> list[tuple[str, bool]]:
    """(column, descending) in order: what $orderby asks, then the source's own ``order``, which
    is unique, so that pages neither repeat nor skip a row."""
    ordering: list[tuple[str, bool]] = []
    for name, descending in options.orderby:
        columns = order if name == "id" else (_column_of(entity, name),)
        ordering += [(column, descending) for column in columns]
    for column in order:
        if column not in [c for c, _ in ordering]:
            ordering.append((column, False))
    return ordering


def _by_key(ordering: list[tuple[str, bool]]) -> bool:
    return all(c in _NEVER_NULL for c, _ in ordering) and len({d for _, d in ordering}) == 1


def _column_of(entity: EntityType, name: str) -> str:
    prop = entity.property(name)
    assert prop is not None  # checked when the options were parsed
    return prop.column


def _token(row: dict[str, Any], ordering: list[tuple[str, bool]]) -> str:
    values = [
        v.isoformat() if isinstance(v, datetime) else v for v in (row[c] for c, _ in ordering)
    ]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _after(token: str, ordering: list[tuple[str, bool]], source: Any) -> ColumnElement[bool]:
    """The condition of the rows past a page's last row, from its ``$skiptoken``."""
    if not _by_key(ordering):
        raise QueryError("$skiptoken applies only to the order of the page that gave it")
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(values, list) or len(values) != len(ordering):
            raise ValueError("wrong length")
        typed = [_key(v, c) for v, (c, _) in zip(values, ordering, strict=True)]
    # RecursionError: json.loads of a list nested a thousand deep, which no token is.
    except (ValueError, TypeError, RecursionError) as error:
        raise QueryError(f"$skiptoken is not one this service gave: {error}") from None
    columns = [source.c[c] for c, _ in ordering]
    row = tuple_(*columns)
    values = tuple_(*(literal(v, column.type) for v, column in zip(typed, columns, strict=True)))
    first = literal(typed[0], columns[0].type)
    # The first column's bound alone as well: a condition an index can walk from.
    if ordering[0][1]:
        return and_(columns[0] <= first, row < values)
    return and_(columns[0] >= first, row > values)


def _key(value: object, column: str) -> int | datetime:
    """One of a token's values as its column holds it: a time, or an integer a bigint holds
    (not a float: json.loads reads Infinity, NaN and 1e400 as floats)."""
    if column == "phenomenonTime":
        if not isinstance(value, str):
            raise TypeError(f"{value!r:.30} is not a time")
        return datetime.fromisoformat(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > LARGEST_INTEGER:
        raise ValueError(f"{value!r:.30} is not a key")
    return value


SERIES = """
SELECT id, thing_id, feed, entity, metric FROM sta_datastreams
WHERE id = $1 AND ($2::text[] IS NULL OR feed = ANY($2::text[]))
"""


async def _source(
    connection: Any, path: ResourcePath, types: Mapping[str, EntityType], visible: Visible
) -> tuple[Any, list[ColumnElement[bool]], tuple[str, ...], bool]:
    """What the path's last step reads: its source, the conditions that narrow it, its order,
    and whether rows the caller may not see are among them (narrowed out by the conditions).
    ``Datastreams(5)/Observations`` reads that one series by its key, found visible first."""
    entity, steps = path.entity, path.steps
    if (
        entity.of_series is not None
        and len(steps) >= 2
        and steps[-2].entity.plural == "Datastreams"
        and steps[-2].entity_id is not None
        and steps[-1].entity_id is None
    ):
        shown = None if visible is None else sorted(visible)
        found = await connection.fetchrow(SERIES, steps[-2].entity_id, shown)
        if found is not None:
            return entity.of_series(Series(*found)).alias(), [], ("phenomenonTime",), False
    source, conditions = _narrowed(path, types, visible)
    return source, conditions, entity.order, visible is not None


async def fetch_page(
    connection: Any,
    path: ResourcePath,
    options: Options,
    types: Mapping[str, EntityType],
    visible: Visible,
) -> Page:
    entity = path.entity
    source, conditions, order, hidden_rows = await _source(connection, path, types, visible)
    if options.filter is not None:
        parts = conjuncts(options.filter)
        safe = [part for part in parts if not may_fail(part)]
        risky = [part for part in parts if may_fail(part)]
        conditions += [condition(part, entity, source, types.__getitem__) for part in safe]
        if risky and hidden_rows:
            # The caller's computations reach only the rows it may see: PostgreSQL neither
            # pushes a condition into a subquery with an OFFSET nor pulls one out of it, so a
            # computation that fails (an overflow) cannot say which hidden values exist.
            source = select(source).where(*conditions).offset(0).subquery("visible")
            conditions = []
        conditions += [condition(part, entity, source, types.__getitem__) for part in risky]
    ordering = _ordering(entity, order, options)
    paging = list(conditions)
    if options.skiptoken is not None:
        paging.append(_after(options.skiptoken, ordering, source))
    statement: Select[Any] = (
        select(source)
        .where(*paging)
        .order_by(*(source.c[c].desc() if d else source.c[c] for c, d in ordering))
        .offset(options.skip)
        .limit(options.top + 1)
    )
    sql, args = compiled(statement)
    rows = [dict(row) for row in await connection.fetch(sql, *args)]
    count = None
    if options.count:
        counting = select(func.count()).select_from(source).where(*conditions)
        sql, args = compiled(counting)
        count = await connection.fetchval(sql, *args)
    # $top=0 asks for no rows (with $count, only the count): there is no next page to give.
    page, more = rows[: options.top], len(rows) > options.top and options.top > 0
    following = _token(page[-1], ordering) if more and _by_key(ordering) else None
    return Page(page, more, count, following)


async def exists(
    connection: Any, path: ResourcePath, types: Mapping[str, EntityType], visible: Visible
) -> bool:
    source, conditions = _narrowed(path, types, visible)
    sql, args = compiled(select(source.c.id).where(*conditions).limit(1))
    return await connection.fetchval(sql, *args) is not None


async def fetch_related(
    connection: Any,
    relation: Relation,
    target: EntityType,
    keys: Sequence[Any],
    visible: Visible,
) -> dict[Any, list[dict[str, Any]]]:
    """The entities ``relation`` reaches from entities whose ``here`` values are ``keys``, by
    key: at most DEFAULT_TOP each (``$expand``). Each parent's rows are read apart, in order, up
    to that limit (a LATERAL join), so a parent with a million observations costs what one
    with a hundred does: nothing numbers every related row to keep the first hundred."""
    parents = (
        func.unnest(bindparam("keys", list(keys), type_=ARRAY(BigInteger)))
        .table_valued("key")
        .render_derived(name="parents")
    )
    source = target.source.alias()
    there = source.c[relation.there]
    each = (
        select(source)
        .where(there == parents.c.key, *_visible_in(source, visible))
        .order_by(*(source.c[c] for c in target.order))
        .limit(DEFAULT_TOP)
        .lateral("related")
    )
    statement = select(each).select_from(parents.join(each, true()))
    related: dict[Any, list[dict[str, Any]]] = {}
    sql, args = compiled(statement)
    for row in await connection.fetch(sql, *args):
        related.setdefault(row[relation.there], []).append(dict(row))
    return related
