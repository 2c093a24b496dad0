"""``/sta/v1.0/`` and ``/sta/v1.1/``: the OGC SensorThings API, read-only, over the store.
A key is optional: without one only the public feeds' entities are visible (open data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import ORJSONResponse, PlainTextResponse, Response

from services.api.access import readable_feeds
from services.api.dependencies import OptionalCaller, State, read_connection
from services.api.errors import ApiError, NotFound
from services.api.public_reads import TooLong
from services.api.schemas import error_responses
from services.api.sta.entities import EntityType, Property
from services.api.sta.filter import QueryError
from services.api.sta.repository import Page, Visible, exists, fetch_page, fetch_related
from services.api.sta.request import Options, ResourcePath, options, resource_path

CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
)

router = APIRouter(tags=["sensorthings"])


def _root(request: Request, version: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/sta/{version}"


Version = Literal["v1.0", "v1.1"]
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An entity, a collection (``value``, ``@iot.nextLink``, ``@iot.count``), "
        "a property, or a property's raw value (``/$value``, as text)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    **error_responses(400, 401, 404, 422, 503),
}


def _option(description: str) -> Any:
    # Documented here, read by request.options (a bad value is a 400 that says why).
    return Query(alias=description.split(":")[0], description=description)


@router.get(
    "/sta/{version}",
    summary="The SensorThings service root: its entity sets",
    responses=error_responses(422),
)
async def service_root(request: Request, version: Version, state: State) -> dict[str, Any]:
    root = _root(request, version)
    body: dict[str, Any] = {
        "value": [{"name": name, "url": f"{root}/{name}"} for name in state.sensorthings]
    }
    if version != "v1.0":
        body["serverSettings"] = {"conformance": list(CONFORMANCE)}
    return body


@router.get(
    "/sta/{version}/{resource:path}",
    summary="SensorThings entities, their properties, relations and references",
    response_class=ORJSONResponse,
    responses=_ANSWERS,
    # A key is optional (open data): the empty requirement says so beside the bearer one.
    openapi_extra={"security": [{}]},
)
async def read(
    request: Request,
    version: Version,
    resource: Annotated[str, Path(description="Things, Things(5)/Datastreams, ...")],
    state: State,
    caller: OptionalCaller,
    top: Annotated[str | None, _option("$top: how many (at most the server's page)")] = None,
    skip: Annotated[str | None, _option("$skip: how many to pass over")] = None,
    count: Annotated[str | None, _option("$count: true to add @iot.count")] = None,
    select: Annotated[str | None, _option("$select: properties, comma-separated")] = None,
    orderby: Annotated[str | None, _option("$orderby: name [asc|desc], ...")] = None,
    expand: Annotated[str | None, _option("$expand: relations, comma-separated")] = None,
    filter_: Annotated[str | None, _option("$filter: an OData expression")] = None,
    skiptoken: Annotated[str | None, _option("$skiptoken: as a nextLink gives it")] = None,
) -> Response:
    """Read-only. Without a key, only the public feeds' entities; with one, what it may read."""
    root = _root(request, version)
    visible = readable_feeds(caller, state.feeds)
    try:
        path = resource_path(resource, state.sensorthings)
        asked = options(dict(request.query_params), path.entity, max_top=state.settings.max_page)
        # A connection only for a request that parsed: bad input costs none.
        async with read_connection(state, caller) as connection:
            page = await fetch_page(connection, path, asked, state.sensorthings, visible)
            parent = path.parent
            if parent is not None and not await exists(
                connection, parent, state.sensorthings, visible
            ):
                raise NotFound(f"no {parent.entity.singular} at {resource}")
            if path.single:
                if not page.rows:
                    raise NotFound(f"no {path.entity.singular} at {resource}")
                return await _one(connection, path, asked, page.rows[0], root, state, visible)
            return await _collection(request, connection, path, asked, page, root, state, visible)
    except QueryError as error:
        raise ApiError(str(error)) from None
    except asyncpg.DataError as error:  # a value the query met that it cannot compute with
        # Its kind, not the database's text (which may quote a value).
        kind = type(error).__name__.removesuffix("Error")
        raise ApiError(f"the query cannot be evaluated on the stored data ({kind})") from None
    except asyncpg.QueryCanceledError:  # a keyless read's statement ran past its limit
        raise TooLong(state.settings.sta_public_timeout_s) from None


async def _one(
    connection: Any,
    path: ResourcePath,
    asked: Options,
    row: dict[str, Any],
    root: str,
    state: State,
    visible: Visible,
) -> Response:
    entity = path.entity
    if path.references:
        return ORJSONResponse({"@iot.selfLink": _self_link(root, entity, row)})
    if path.member is not None:
        value = _value(path.member, row)
        if path.raw_value:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return PlainTextResponse("" if value is None else text)
        return ORJSONResponse({path.member.name: value})
    (rendered,) = await _rendered(connection, entity, [row], asked, root, state, visible)
    return ORJSONResponse(rendered)


async def _collection(
    request: Request,
    connection: Any,
    path: ResourcePath,
    asked: Options,
    page: Page,
    root: str,
    state: State,
    visible: Visible,
) -> Response:
    entity = path.entity
    body: dict[str, Any] = {}
    if page.count is not None:
        body["@iot.count"] = page.count
    if path.references:
        body["value"] = [{"@iot.selfLink": _self_link(root, entity, row)} for row in page.rows]
    else:
        body["value"] = await _rendered(connection, entity, page.rows, asked, root, state, visible)
    if page.more:
        following = {**asked.given, "$top": str(asked.top)}
        if page.skiptoken is not None:
            following.pop("$skip", None)
            following["$skiptoken"] = page.skiptoken
        else:
            following["$skip"] = str(asked.skip + asked.top)
        body["@iot.nextLink"] = (
            f"{request.url.remove_query_params(list(request.query_params))}?{urlencode(following)}"
        )
    return ORJSONResponse(body)


async def _rendered(
    connection: Any,
    entity: EntityType,
    rows: list[dict[str, Any]],
    asked: Options,
    root: str,
    state: State,
    visible: Visible,
) -> list[dict[str, Any]]:
    rendered = [_entity(entity, row, root, asked.select) for row in rows]
    for name in asked.expand:
        relation = entity.relation(name)
        assert relation is not None  # checked when the options were parsed
        target = state.sensorthings[relation.target]
        keys = sorted({row[relation.here] for row in rows})
        related = await fetch_related(connection, relation, target, keys, visible)
        for row, out in zip(rows, rendered, strict=True):
            found = [_entity(target, r, root, ()) for r in related.get(row[relation.here], [])]
            out[name] = found if relation.many else (found[0] if found else None)
    return rendered


def _self_link(root: str, entity: EntityType, row: dict[str, Any]) -> str:
    return f"{root}/{entity.plural}({row['id']})"


def _entity(
    entity: EntityType, row: dict[str, Any], root: str, select: tuple[str, ...]
) -> dict[str, Any]:
    link = _self_link(root, entity, row)
    out: dict[str, Any] = {}
    if not select or "id" in select:
        out["@iot.id"] = row["id"]
    if not select:
        out["@iot.selfLink"] = link
    for prop in entity.properties:
        if not select or prop.name in select:
            out[prop.name] = _value(prop, row)
    for relation in entity.relations:
        if not select or relation.name in select:
            out[f"{relation.name}@iot.navigationLink"] = f"{link}/{relation.name}"
    return out


def _value(prop: Property, row: dict[str, Any]) -> Any:
    if prop.kind == "result":
        number = row["result_number"]
        return number if number is not None else row["result_text"]
    value = row[prop.column]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value
