"""Pull connectors against a department API written here, end to end: the API's pages through
``ioc connectors run --once`` (a real process) or the service's own pull, the raw topic, a real
worker and the store."""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.connectors.definitions import load_connectors
from services.connectors.failures import PageNotJson, PullFailed
from services.connectors.fetch import RetryPolicy
from services.connectors.pull import PullReport
from services.connectors.service import pull_once
from services.connectors.settings import ConnectorsSettings
from tests.integration.connectors.department_api import (
    KEY,
    programme_tasks,
    serving,
)
from tests.integration.pipeline import (
    TEST_NOW,
    all_committed,
    eventually,
    running_worker,
    topic_size,
)
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration
FEED = "programme-tasks"


@pytest.fixture
def tasks(feeds: dict[str, FeedDefinition]) -> tuple[list[dict[str, Any]], dict[Any, str]]:
    directory = feeds[FEED].directory
    return programme_tasks(
        directory / "examples.ndjson",
        directory / "expected.ndjson",
        first=TEST_NOW - timedelta(days=20),
    )


def _connectors_settings(settings: CommonSettings) -> ConnectorsSettings:
    return replace(
        ConnectorsSettings.from_env({}),
        common=settings,
        metrics_port=0,
        retry=RetryPolicy(attempts=4, base_s=0.05, cap_s=0.2),
    )


async def _pull(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], *files: Path
) -> list[PullReport | PullFailed]:
    connectors = load_connectors(files, feeds, {"IOC_TEST_DEPT_KEY": KEY})
    return await pull_once(_connectors_settings(settings), connectors, feeds, now=lambda: TEST_NOW)


async def _stored(db: Any) -> dict[tuple[str, str], str]:
    rows = await db.fetch("SELECT entity, ts, value FROM states WHERE feed = $1", FEED)
    return {(r["entity"], r["ts"].isoformat()): r["value"] for r in rows}


async def _ingest(settings: CommonSettings, feeds: dict[str, FeedDefinition], count: int) -> None:
    async with running_worker(settings, feeds) as worker:
        await eventually(functools.partial(all_committed, worker, FEED, count))


@pytest.mark.asyncio(loop_scope="session")
async def test_once_pulls_every_page_behind_a_key_and_stores_every_record_exactly_once(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    tasks: tuple[list[dict[str, Any]], dict[Any, str]],
    tmp_path: Path,
) -> None:
    records, statuses = tasks
    env = service_env(settings, IOC_TEST_DEPT_KEY=KEY, IOC_CONNECTOR_BACKOFF_S="0.05")
    async with serving(records) as api:
        api.fault("linked", 2, "503")  # the platform in maintenance for a moment
        api.fault("linked", 4, "slow")  # past the definition's 1 s timeout once
        definition = api.definition(tmp_path, "linked")

        done = await asyncio.to_thread(run_ioc, env, "connectors", "run", "--once", str(definition))
        assert done.returncode == 0, done.stderr
        assert "7 pages, 123 records" in done.stdout
        assert KEY not in done.stdout + done.stderr
        assert api.served[("linked", 2)] == 1
        assert api.served[("linked", 4)] == 1

        # Once more: only what came after the mark is asked for, and nothing came.
        again = await asyncio.to_thread(
            run_ioc, env, "connectors", "run", "--once", str(definition)
        )
        assert again.returncode == 0, again.stderr
        assert "1 page, 0 records" in again.stdout
        assert api.asked[-1][1] == {"cap_nhat_tu": records[-1]["cap_nhat_luc"]}

    assert await topic_size(settings.kafka, settings.topics.raw(FEED)) == len(records)
    await _ingest(settings, feeds, len(records))
    assert await _stored(db) == statuses
    assert await db.fetchval("SELECT count(*) FROM rejections") == 0
    mark = await db.fetchval(
        "SELECT mark::text FROM connector_marks WHERE connector = 'sotc-linked'"
    )
    assert json.loads(mark) == records[-1]["cap_nhat_luc"]


@pytest.mark.asyncio(loop_scope="session")
async def test_paging_by_page_number_pulls_a_bare_array_and_its_invalid_records_are_quarantined(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    tasks: tuple[list[dict[str, Any]], dict[Any, str]],
    tmp_path: Path,
) -> None:
    records, statuses = tasks
    broken = {**records[30], "trang_thai": "dang_lam"}  # a status the feed does not know
    served = [*records[:30], broken, *records[31:]]
    invalid_before = _sample("ioc_connector_records_total", "sotc-numbered", outcome="invalid")
    async with serving(served) as api:
        api.fault("numbered", 3, "503")
        outcomes = await _pull(settings, feeds, api.definition(tmp_path, "numbered"))

    [report] = outcomes
    assert isinstance(report, PullReport), report
    assert (report.pages, report.records, report.invalid) == (8, 123, 1)  # the 8th is empty
    assert "'dang_lam' is not one of" in report.reasons[0]
    invalid = _sample("ioc_connector_records_total", "sotc-numbered", outcome="invalid")
    assert invalid - invalid_before == 1
    await _ingest(settings, feeds, len(records))
    task = broken["ma_nhiem_vu"]
    assert await _stored(db) == {key: v for key, v in statuses.items() if key[0] != task}
    [rejection] = await db.fetch("SELECT reason FROM rejections")
    assert "'dang_lam' is not one of" in rejection["reason"]
    assert f"pulled from {api.base_url}/tasks/numbered?trang=2" in rejection["reason"]


@pytest.mark.asyncio(loop_scope="session")
async def test_since_asks_only_for_what_came_after_the_kept_mark(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    tasks: tuple[list[dict[str, Any]], dict[Any, str]],
    tmp_path: Path,
) -> None:
    records, statuses = tasks
    async with serving(records[:100]) as api:
        definition = api.definition(tmp_path, "linked")
        [first] = await _pull(settings, feeds, definition)
        assert isinstance(first, PullReport)
        assert first.records == 100
        api.records.extend(records[100:])  # the department records more
        [second] = await _pull(settings, feeds, definition)

    assert isinstance(second, PullReport), second
    assert second.records == 23
    assert second.mark == records[-1]["cap_nhat_luc"]
    assert api.asked[-2][1] == {"cap_nhat_tu": records[99]["cap_nhat_luc"]}
    assert await topic_size(settings.kafka, settings.topics.raw(FEED)) == len(records)
    await _ingest(settings, feeds, len(records))
    assert await _stored(db) == statuses


@pytest.mark.asyncio(loop_scope="session")
async def test_a_page_that_is_not_json_is_quarantined_with_its_url_and_fails_the_pull(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    tasks: tuple[list[dict[str, Any]], dict[Any, str]],
    tmp_path: Path,
) -> None:
    records, _ = tasks
    env = service_env(settings, IOC_TEST_DEPT_KEY=KEY)
    async with serving(records) as api:
        api.fault("linked", 3, "html")
        definition = api.definition(tmp_path, "linked")
        done = await asyncio.to_thread(run_ioc, env, "connectors", "run", "--once", str(definition))

    assert done.returncode == 1
    line = _failure(done.stderr)
    assert line.startswith("ioc connectors run: sotc-linked: page 3 at ")
    assert "is not JSON" in line
    assert "quarantined" in line
    # Pages 1 and 2 went to Kafka before the bad one; the mark did not move.
    await _ingest(settings, feeds, 2 * 20 + 1)
    [rejection] = await db.fetch("SELECT reason, raw FROM rejections")
    assert rejection["reason"].startswith("decode: not JSON")
    assert f"pulled from {api.base_url}/tasks/linked?cursor=40" in rejection["reason"]
    assert rejection["raw"].startswith(b"<html>")
    assert await db.fetchval("SELECT count(*) FROM connector_marks") == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_a_refused_key_is_said_to_be_the_credentials_and_never_shown(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    tasks: tuple[list[dict[str, Any]], dict[Any, str]],
    tmp_path: Path,
) -> None:
    wrong = "khoa-sai-da-het-han"
    env = service_env(settings, IOC_TEST_DEPT_KEY=wrong)
    async with serving(tasks[0]) as api:
        definition = api.definition(tmp_path, "numbered")
        done = await asyncio.to_thread(run_ioc, env, "connectors", "run", "--once", str(definition))

    assert done.returncode == 1
    line = _failure(done.stderr)
    assert "401 Unauthorized" in line
    assert "refused the credentials" in line
    assert line.endswith(": X-LGSP-Key from ${IOC_TEST_DEPT_KEY}")  # by name, never the value
    assert wrong not in done.stdout + done.stderr
    assert len(api.asked) == 1  # a refused key is not retried


@pytest.mark.asyncio(loop_scope="session")
async def test_one_failing_connector_leaves_the_others_pulling(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    tasks: tuple[list[dict[str, Any]], dict[Any, str]],
    tmp_path: Path,
) -> None:
    records, _ = tasks
    async with serving(records) as api:
        api.fault("numbered", 1, "503", "503", "503", "503")  # every attempt of the pull
        outcomes = await _pull(
            settings,
            feeds,
            api.definition(tmp_path, "numbered"),
            api.definition(tmp_path, "linked"),
        )

    failed, pulled = outcomes
    assert isinstance(failed, PullFailed)
    assert not isinstance(failed, PageNotJson)
    assert "503 Service Unavailable (after 4 attempts)" in str(failed)
    assert isinstance(pulled, PullReport)
    assert pulled.records == len(records)
    assert _sample("ioc_connector_failures_total", "sotc-numbered", kind="http") >= 1
    assert _sample("ioc_connector_last_success_timestamp_seconds", "sotc-linked") == (
        TEST_NOW.timestamp()
    )


def _failure(stderr: str) -> str:
    """The command's one line saying why it failed (the broker's client may log too)."""
    [line] = [line for line in stderr.splitlines() if line.startswith("ioc connectors run:")]
    return line


def _sample(name: str, connector: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"connector": connector, **labels}) or 0.0
