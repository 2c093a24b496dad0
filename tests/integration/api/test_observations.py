"""GET /v1/feeds/{feed}/observations served from the real store, with keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import CommonSettings
from tests.integration.conftest import TIMESCALEDB_VERSION
from tests.integration.pipeline import all_committed, eventually, produce, running_worker

pytestmark = pytest.mark.integration


async def _key(db: Any, kind: str, subject: str) -> dict[str, str]:
    _, key = await issue_key(db, kind, subject)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_produced_salinity_message_is_served_with_canonical_values(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any, client: httpx.AsyncClient
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    await produce(settings, "salinity", examples)
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))

    reader = await _key(db, "reader", "wall")
    response = await client.get(
        "/v1/feeds/salinity/observations",
        params={"entity": "CM-SAL-03", "from": "2026-11-25T06:00:00+07:00"},
        headers=reader,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is True  # API_MAX_PAGE is 5 in these tests
    assert body["observations"][:2] == [
        {
            "entity": "CM-SAL-03",
            "metric": "salinity_ppt",
            "ts": "2026-11-24T23:00:00Z",
            "value": 14.1,
            "unit": "‰",
        },
        {
            "entity": "CM-SAL-03",
            "metric": "water_level_m",
            "ts": "2026-11-24T23:00:00Z",
            "value": 1.11,
            "unit": "m",
        },
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_keys_decide_who_reads(db: Any, client: httpx.AsyncClient) -> None:
    url = "/v1/feeds/salinity/observations"
    assert (await client.get(url)).status_code == 401
    wrong = {"Authorization": "Bearer ioc_not-a-key"}
    assert (await client.get(url, headers=wrong)).json() == {
        "error": "unauthorized",
        "detail": "unknown or revoked API key",
    }
    owner = await _key(db, "agency", "snnmt")
    assert (await client.get(url, headers=owner)).status_code == 200
    other_agency = await _key(db, "agency", "syt")
    assert (await client.get(url, headers=other_agency)).status_code == 403
    reader = await _key(db, "reader", "grafana")
    assert (await client.get("/v1/feeds/nope/observations", headers=reader)).status_code == 404
    naive = await client.get(url, params={"from": "2026-11-25T06:00:00"}, headers=reader)
    assert naive.status_code == 422
    assert "UTC offset" in naive.json()["detail"]
    seconds = await client.get(url, params={"to": "0.5"}, headers=reader)  # not 1970 + 0.5 s
    assert seconds.status_code == 422
    assert "ISO 8601" in seconds.json()["detail"]


@pytest.mark.asyncio(loop_scope="session")
async def test_readyz_names_the_storage_mode_and_timescaledb_version(
    client: httpx.AsyncClient, stack: Any
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ready",
        "storage_mode": stack.storage_mode,
        "timescaledb_version": body["timescaledb_version"],
    }
    if stack.storage_mode == "timescaledb":
        assert body["timescaledb_version"] == TIMESCALEDB_VERSION
    else:
        assert body["timescaledb_version"] is None
    assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_nul_in_a_filter_is_a_clear_refusal(db: Any, client: httpx.AsyncClient) -> None:
    # PostgreSQL text cannot hold NUL: such a filter matches nothing that could be stored.
    reader = await _key(db, "reader", "grafana")
    for name in ("entity", "metric"):
        response = await client.get(
            "/v1/feeds/salinity/observations", params={name: "CM\x00"}, headers=reader
        )
        assert response.status_code == 200, response.text
        assert response.json()["observations"] == []
