"""The API's /metrics: requests by route template and status, key rejections, feed freshness,
and counts that stay exact when several API processes share the port."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from services.common.keys import issue_key
from services.common.settings import CommonSettings
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.asyncio(loop_scope="session")
async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, db: Any
) -> None:
    _, key = await issue_key(db, "reader", "wall")
    route = {"route": "/v1/feeds/{feed}/observations", "method": "GET"}
    ok_before = _sample("ioc_api_request_duration_seconds_count", **route, status="200")
    unmatched_before = _sample(
        "ioc_api_request_duration_seconds_count", route="<unmatched>", method="GET", status="404"
    )
    headers = {"Authorization": f"Bearer {key}"}
    for feed in ("salinity", "air-quality", "traffic"):
        assert (await client.get(f"/v1/feeds/{feed}/observations", headers=headers)).is_success
    assert (await client.get("/no/such/page")).status_code == 404

    assert _sample("ioc_api_request_duration_seconds_count", **route, status="200") == ok_before + 3
    assert (
        _sample(
            "ioc_api_request_duration_seconds_count",
            route="<unmatched>",
            method="GET",
            status="404",
        )
        == unmatched_before + 1
    )
    exposition = (await client.get("/metrics")).text
    assert "/v1/feeds/salinity/observations" not in exposition  # templates, never raw paths


@pytest.mark.asyncio(loop_scope="session")
async def test_refused_keys_are_counted_by_reason(client: httpx.AsyncClient, db: Any) -> None:
    unauthorized_before = _sample("ioc_api_key_rejections_total", reason="unauthorized")
    forbidden_before = _sample("ioc_api_key_rejections_total", reason="forbidden")
    _, agency_key = await issue_key(db, "agency", "snnmt")
    another_agencys = "/v1/feeds/hospital-beds/rejections"

    # A feed that is not public (salinity is: its observations need no key).
    assert (await client.get("/v1/feeds/hospital-beds/observations")).status_code == 401
    bad = {"Authorization": "Bearer not-a-key"}
    assert (await client.get("/v1/feeds", headers=bad)).status_code == 401
    owner = {"Authorization": f"Bearer {agency_key}"}
    assert (await client.get(another_agencys, headers=owner)).status_code == 403

    assert _sample("ioc_api_key_rejections_total", reason="unauthorized") == unauthorized_before + 2
    assert _sample("ioc_api_key_rejections_total", reason="forbidden") == forbidden_before + 1


def _fetch(url: str) -> str:
    # A new connection each time, so the kernel may hand it to either process.
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
        return text


def test_counts_are_exact_across_several_api_processes(settings: CommonSettings) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(settings, IOC_FRESHNESS_REFRESH_S="0.5")
    with running_service(["api", "--port", str(port), "--processes", "2"], env, f"{url}/healthz"):
        for _ in range(40):
            _fetch(f"{url}/healthz")
        exposition = _fetch(f"{url}/metrics")

    series = 'ioc_api_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
    pattern = re.escape(series) + r" (\S+)"
    counts = [float(value) for value in re.findall(pattern, exposition)]
    # One merged series: the 40 requests and the one readiness probe that got an answer.
    assert counts == [41.0]
    # The freshness gauges come through the merge too: an empty store is silent on every feed.
    assert re.search(
        r'ioc_feed_status\{agency="snnmt",feed="salinity",status="silent"\} 1\.0', exposition
    )
