"""The API's one error shape, ``{"error", "detail"}``, holds for the answers no endpoint gives:
a path no route matches and a method a route does not take (Starlette's own 404 and 405)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize(
    "path",
    [
        "/no/such/page",
        # A newline in a SensorThings resource matches no route: `{resource:path}` is `.*`.
        "/sta/v1.1/Things%0A(1)",
    ],
)
async def test_a_path_no_route_matches_is_a_404_in_the_one_error_shape(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found", "detail": answer.json()["detail"]}
    assert "no resource at" in answer.json()["detail"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_method_a_route_does_not_take_is_a_405_naming_the_allowed_ones(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.delete("/v1/indicators")
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
    assert "DELETE" in answer.json()["detail"]
    assert answer.headers["allow"] == "GET"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_405_names_every_method_of_a_path_several_routes_share(
    client: httpx.AsyncClient,
) -> None:
    # GET lists the register, POST issues by hand: Starlette's own 405 named only the first.
    answer = await client.delete("/v1/reminders")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
