"""No agency touches another's data: every feed endpoint, every agency's key, every feed; a
public feed's observations are everyone's, with or without a key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.common.feeds import FeedDefinition
from services.common.keys import issue_key

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_an_agency_key_reaches_only_its_own_feeds_on_every_endpoint(
    client: httpx.AsyncClient, db: Any, feeds: dict[str, FeedDefinition]
) -> None:
    agencies = sorted({feed.agency for feed in feeds.values()})
    keys = {}
    for agency in agencies:
        _, key = await issue_key(db, "agency", agency)
        keys[agency] = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for agency, headers in keys.items():
        for name, feed in feeds.items():
            statuses = [
                (await client.get(f"/v1/feeds/{name}/observations", headers=headers)).status_code,
                (await client.get(f"/v1/feeds/{name}/rejections", headers=headers)).status_code,
                (
                    await client.post(f"/v1/feeds/{name}/messages", content=b"[]", headers=headers)
                ).status_code,
            ]
            # Its own feed: reads answer, an empty push is merely invalid. Another's: 403 all,
            # but a public feed's observations, which anyone reads.
            if feed.agency == agency:
                expected = [200, 200, 422]
            else:
                expected = [200 if feed.public else 403, 403, 403]
            assert statuses == expected, (agency, name)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_reader_key_reads_every_feed_and_pushes_to_none(
    client: httpx.AsyncClient, db: Any, feeds: dict[str, FeedDefinition]
) -> None:
    _, key = await issue_key(db, "reader", "wall")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for name in feeds:
        assert (
            await client.get(f"/v1/feeds/{name}/observations", headers=headers)
        ).status_code == 200
        assert (
            await client.get(f"/v1/feeds/{name}/rejections", headers=headers)
        ).status_code == 200
        push = await client.post(f"/v1/feeds/{name}/messages", content=b"[]", headers=headers)
        assert push.status_code == 403


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer ioc_" + "x" * 43,
        "Bearer " + "\\x00" * 10,
    ],
)
async def test_malformed_and_unknown_keys_are_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, url in [
        ("GET", "/v1/feeds/hospital-beds/observations"),  # not public: a key is needed
        ("GET", "/v1/feeds/salinity/rejections"),
        ("POST", "/v1/feeds/salinity/messages"),
    ]:
        response = await client.request(method, url, headers=headers, json=[])
        assert response.status_code == 401, (authorization, url)
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.asyncio(loop_scope="session")
async def test_without_a_key_a_public_feeds_observations_answer_and_no_other_feed_does(
    client: httpx.AsyncClient, feeds: dict[str, FeedDefinition]
) -> None:
    for name, feed in feeds.items():
        observations = await client.get(f"/v1/feeds/{name}/observations")
        assert observations.status_code == (200 if feed.public else 401), name
        if not feed.public:
            assert observations.json()["detail"] == (
                f"feed {name!r} is not public: an API key is required, Authorization: Bearer <key>"
            )
        rejections = await client.get(f"/v1/feeds/{name}/rejections")
        assert rejections.status_code == 401, name  # a quarantine is never public
    wrong = await client.get(
        "/v1/feeds/salinity/observations", headers={"Authorization": "Bearer ioc_" + "x" * 43}
    )
    assert wrong.status_code == 401  # a wrong key is refused even where none is needed
