"""``$skiptoken`` read back without a database: a token the service gave pages on; anything
else is a 400 that says so, never an error on the way to SQL."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from services.api.sta.entities import catalogue
from services.api.sta.filter import LARGEST_INTEGER, QueryError
from services.api.sta.repository import fetch_page, fetch_related
from services.api.sta.request import Options, resource_path
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT

TYPES = catalogue(load_feeds(REPO_ROOT / "schemas"))
THINGS = resource_path("Things", TYPES)


class Connection:
    """Answers every page with ``rows`` and keeps the arguments each query was given."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.arguments: list[tuple[Any, ...]] = []

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.arguments.append(args)
        return self.rows


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.asyncio
async def test_a_token_the_service_gave_starts_the_next_page() -> None:
    first = await fetch_page(
        Connection([{"id": 7}, {"id": 8}]), THINGS, Options(top=1), TYPES, None
    )
    assert first.skiptoken is not None
    connection = Connection([])
    await fetch_page(connection, THINGS, Options(top=1, skiptoken=first.skiptoken), TYPES, None)
    assert 7 in connection.arguments[0]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "token",
    [
        "[Infinity]",
        "[NaN]",
        "[1e400]",
        pytest.param(f"[{'9' * 400}]", id="[400 digits]"),
        f"[{LARGEST_INTEGER + 1}]",
        '["12"]',
        "[true]",
        pytest.param("[" * 5000, id="[ 5000 deep"),
    ],
)
async def test_a_token_the_service_did_not_give_is_refused(token: str) -> None:
    connection = Connection([])
    with pytest.raises(QueryError, match=r"^\$skiptoken is not one this service gave"):
        await fetch_page(connection, THINGS, Options(skiptoken=_token(token)), TYPES, None)
    assert connection.arguments == []


@pytest.mark.asyncio
async def test_an_expand_reads_each_parents_related_rows_up_to_the_limit_alone() -> None:
    """A to-many ``$expand`` reads each parent's rows by a LATERAL join with its own LIMIT, not
    by numbering every related row (``row_number()`` over a million observations)."""

    class Recording:
        sql = ""

        async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
            self.sql = sql
            return []

    connection = Recording()
    datastreams = TYPES["Datastreams"]
    relation = datastreams.relation("Observations")
    assert relation is not None
    await fetch_related(connection, relation, TYPES["Observations"], [1, 2], None)
    assert "LATERAL" in connection.sql
    assert "row_number" not in connection.sql.lower()
