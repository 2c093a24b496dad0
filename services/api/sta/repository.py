"""The SensorThings API's SQL: a resource path becomes nested selections of the entity types'
sources, narrowed by id, by the caller's visible feeds and by ``$filter``; compiled by
SQLAlchemy into one parameterised statement for asyncpg."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from services.api.sta.entities import EntityType, Relation
from services.api.sta.filter import condition
from services.api.sta.request import DEFAULT_TOP, Options, ResourcePath

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]

Visible = frozenset[str] | None  # the feeds a caller may read; None: every feed


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]
    more: bool  # rows lie past this page
    count: int | None  # all rows matching, where $count=true asked


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
    previous: tuple[EntityType, Any, list[ColumnElement[bool]]] | None = None
    for step in path.steps:
        source = step.entity.source.alias()
        conditions = _visible_in(source, visible)
        if step.entity_id is not None:
            conditions.append(step.entity.identified(source, step.entity_id))
        if previous is not None and step.relation is not None:
            entity, before, narrowing = previous
            relation = entity.relation(step.relation)
            assert relation is not None  # checked when the path was parsed
            linked = select(before.c[relation.here]).where(*narrowing)
            conditions.append(source.c[relation.there].in_(linked))
        previous = (step.entity, source, conditions)
    return source, conditions


def _visible_in(source: Any, visible: Visible) -> list[ColumnElement[bool]]:
    return [] if visible is None else [source.c.feed.in_(sorted(visible))]


def _order(entity: EntityType, source: Any, options: Options) -> list[Any]:
    ordering: list[Any] = []
    for name, descending in options.orderby:
        columns = entity.order if name == "id" else (_column_of(entity, name),)
        ordering += [source.c[c].desc() if descending else source.c[c] for c in columns]
    return ordering + [source.c[c] for c in entity.order]  # a stable order for paging


def _column_of(entity: EntityType, name: str) -> str:
    prop = entity.property(name)
    assert prop is not None  # checked when the options were parsed
    return prop.column


async def fetch_page(
    connection: Any,
    path: ResourcePath,
    options: Options,
    types: Mapping[str, EntityType],
    visible: Visible,
) -> Page:
    entity = path.entity
    source, conditions = _narrowed(path, types, visible)
    if options.filter is not None:
        conditions.append(condition(options.filter, entity, source, types.__getitem__))
    statement: Select[Any] = (
        select(source)
        .where(*conditions)
        .order_by(*_order(entity, source, options))
        .offset(options.skip)
        .limit(options.top + 1)
    )
    sql, args = compiled(statement)
    rows = await connection.fetch(sql, *args)
    count = None
    if options.count:
        counting = select(func.count()).select_from(source).where(*conditions)
        sql, args = compiled(counting)
        count = await connection.fetchval(sql, *args)
    return Page([dict(row) for row in rows[: options.top]], len(rows) > options.top, count)


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
    key: at most DEFAULT_TOP each (``$expand``)."""
    source = target.source.alias()
    there = source.c[relation.there]
    rank = func.row_number().over(partition_by=there, order_by=[source.c[c] for c in target.order])
    ranked = (
        select(source, rank.label("rank_in_parent"))
        .where(there.in_(list(keys)), *_visible_in(source, visible))
        .subquery()
    )
    statement = (
        select(ranked)
        .where(ranked.c.rank_in_parent <= DEFAULT_TOP)
        .order_by(ranked.c[relation.there], ranked.c.rank_in_parent)
    )
    related: dict[Any, list[dict[str, Any]]] = {}
    sql, args = compiled(statement)
    for row in await connection.fetch(sql, *args):
        related.setdefault(row[relation.there], []).append(dict(row))
    return related
