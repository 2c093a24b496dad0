"""``/v1/stream`` from a real API process: every indicator on connect, then an event as soon as
the worker commits data that changes one (its NOTIFY, not a polling cadence)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.api.indicators.definitions import load_indicators
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key, revoke_key
from services.common.settings import CommonSettings
from tests.integration.messages import salinity_reading
from tests.integration.pipeline import produce, running_worker
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration


async def _events(lines: Any) -> Any:
    """(event, data) pairs of a server-sent event stream."""
    event, data = None, None
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and event is not None:
            yield event, data
            event, data = None, None


@pytest.mark.asyncio(loop_scope="session")
async def test_the_stream_sends_every_indicator_then_each_change_as_data_arrives(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    _, key = await issue_key(db, "reader", "wall")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # An hour between cadence refreshes: only the worker's NOTIFY can bring the change quickly.
    env = service_env(settings, IOC_INDICATOR_REFRESH_S="3600")
    indicators = load_indicators(settings.schemas_dir, feeds)
    with contextlib.ExitStack() as stack:
        await asyncio.to_thread(
            stack.enter_context,
            running_service(["api", "--port", str(port)], env, f"{url}/healthz"),
        )
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/v1/stream")).status_code == 401
            headers = {"Authorization": f"Bearer {key}"}
            async with client.stream("GET", "/v1/stream", headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                events = _events(response.aiter_lines())
                first = [await anext(events) for _ in indicators]
                assert {data["id"] for _, data in first} == set(indicators)
                salinity = next(data for _, data in first if data["id"] == "salinity.max_ppt")
                assert (salinity["value"], salinity["status"]) == (None, "no_data")

                await produce(settings, "salinity", [salinity_reading(datetime.now(UTC), "21,5")])
                async with running_worker(settings, feeds, now=lambda: datetime.now(UTC)):
                    async with asyncio.timeout(20):
                        async for kind, data in events:
                            if kind == "indicator" and data["id"] == "salinity.max_ppt":
                                break
                assert (data["value"], data["status"]) == (21.5, "critical")


@contextlib.asynccontextmanager
async def _api(settings: CommonSettings, **extra: str) -> Any:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(settings, **extra)
    with contextlib.ExitStack() as stack:
        await asyncio.to_thread(
            stack.enter_context,
            running_service(["api", "--port", str(port)], env, f"{url}/healthz"),
        )
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client


@pytest.mark.asyncio(loop_scope="session")
async def test_an_open_stream_ends_once_its_key_is_revoked(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    key_id, key = await issue_key(db, "reader", "wall")
    indicators = load_indicators(settings.schemas_dir, feeds)
    async with _api(settings, IOC_STREAM_KEY_CHECK_S="1") as client:
        headers = {"Authorization": f"Bearer {key}"}
        async with client.stream("GET", "/v1/stream", headers=headers) as response:
            assert response.status_code == 200
            events = _events(response.aiter_lines())
            for _ in indicators:
                await anext(events)
            assert await revoke_key(db, key_id)
            # A guard against a stream that outlives its key, not a measure of how soon it ends.
            async with asyncio.timeout(30):
                last = [kind async for kind, _ in events][-1]
        assert last == "revoked"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_key_holds_only_so_many_streams_and_the_next_is_told_when_to_retry(
    settings: CommonSettings, db: Any
) -> None:
    _, key = await issue_key(db, "reader", "wall")
    _, other = await issue_key(db, "reader", "grafana")
    async with _api(settings, IOC_STREAM_MAX_PER_KEY="2") as client:
        headers = {"Authorization": f"Bearer {key}"}
        async with contextlib.AsyncExitStack() as open_streams:
            for _ in range(2):
                held = await open_streams.enter_async_context(
                    client.stream("GET", "/v1/stream", headers=headers)
                )
                assert held.status_code == 200
            async with client.stream("GET", "/v1/stream", headers=headers) as refused:
                assert refused.status_code == 429
                assert int(refused.headers["Retry-After"]) > 0
                assert "IOC_STREAM_MAX_PER_KEY" in json.loads(await refused.aread())["detail"]
            async with client.stream(
                "GET", "/v1/stream", headers={"Authorization": f"Bearer {other}"}
            ) as another:
                assert another.status_code == 200  # another key's streams are its own
        # The streams closed: their slots are free again once the API sees them gone.
        async with asyncio.timeout(30):  # a guard, not a measure
            while True:
                async with client.stream("GET", "/v1/stream", headers=headers) as again:
                    if again.status_code == 200:
                        break
                await asyncio.sleep(0.2)
