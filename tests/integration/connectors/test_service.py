"""The connectors as a service, against the simulator's department APIs: the example connectors
of schemas/connectors/ pull each pulled feed into its raw topic on their schedule, the simulator
publishing none of those feeds itself, and a connector that fails stalls none of the others."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.topics import PULLED_FROM
from services.connectors.definitions import connector_files, load_connectors
from services.connectors.fetch import RetryPolicy
from services.connectors.service import run_connectors
from services.connectors.settings import ConnectorsSettings
from services.simulator.department_api import SERVED
from services.simulator.faults import FaultRates
from services.simulator.simulate import DepartmentApi, examples_by_entity, run_simulator
from tests.conftest import SCHEMAS_DIR
from tests.integration.pipeline import TEST_NOW, eventually, read_topic, topic_size
from tests.integration.processes import free_port

pytestmark = pytest.mark.integration
KEY = "khoa-mo-phong"


@contextlib.asynccontextmanager
async def _running(task_of: asyncio.Event, run: asyncio.Task[None]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        task_of.set()
        await asyncio.wait_for(run, timeout=30)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_example_connectors_pull_the_simulators_apis_and_a_failing_one_stalls_none(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], tmp_path: Path
) -> None:
    api = DepartmentApi("127.0.0.1", free_port(), KEY)
    env = {"IOC_LGSP_URL": f"http://127.0.0.1:{api.port}", "IOC_LGSP_KEY": KEY}
    broken = tmp_path / "so-nowhere.yaml"  # a department whose API does not answer at all
    broken.write_text(
        yaml.safe_dump(
            {
                "feed": "salinity",
                "url": f"http://127.0.0.1:{free_port()}/api",
                "records": "",
                "every": 1,
            }
        ),
        encoding="utf-8",
    )
    connectors = load_connectors([*connector_files(SCHEMAS_DIR / "connectors"), broken], feeds, env)
    configured = replace(
        ConnectorsSettings.from_env({}),
        common=settings,
        metrics_port=0,
        retry=RetryPolicy(attempts=1),
    )
    simulating, pulling = asyncio.Event(), asyncio.Event()
    simulator = asyncio.create_task(
        run_simulator(
            settings.kafka,
            settings.topics,
            list(feeds.values()),
            simulating,
            FaultRates.none(),
            api,
        )
    )
    async with _running(simulating, simulator):
        await eventually(lambda: _answers(api.port))
        service = asyncio.create_task(
            run_connectors(configured, connectors, feeds, pulling, now=lambda: TEST_NOW)
        )
        async with _running(pulling, service):
            # The failing connector is tried again every second meanwhile.
            await eventually(lambda: _failures_at_least("so-nowhere", 2))
            for served in SERVED:
                await eventually(functools.partial(_succeeded, _connector_of(served.feed)))

    for served in SERVED:
        entities = len(examples_by_entity(feeds[served.feed]))  # one slot played, by entity
        topic = settings.topics.raw(served.feed)
        assert await topic_size(settings.kafka, topic) == entities  # pulled once, not published
        records = await read_topic(settings.kafka, topic, entities)
        assert all(dict(r.headers).get(PULLED_FROM) for r in records), served.feed
    assert not service.exception()


def _connector_of(feed: str) -> str:
    return {"hospital-beds": "syt-giuong-benh", "programme-tasks": "skhcn-nhiem-vu"}[feed]


async def _answers(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _failures_at_least(connector: str, count: int) -> bool:
    failures = REGISTRY.get_sample_value(
        "ioc_connector_failures_total", {"connector": connector, "kind": "http"}
    )
    return (failures or 0) >= count


async def _succeeded(connector: str) -> bool:
    last = REGISTRY.get_sample_value(
        "ioc_connector_last_success_timestamp_seconds", {"connector": connector}
    )
    return last == TEST_NOW.timestamp()
