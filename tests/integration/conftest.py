"""The real test stack: PostgreSQL and Kafka started by deploy/stack.sh (the same script as
``make up``) in a directory and on ports of their own, once per test run. Each test gets a
fresh database cloned from a migrated template and, where it asks, topics of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.errors import KafkaError

from services.common.feeds import FeedDefinition
from services.common.kafka import KafkaConnection, admin_client
from services.common.keys import KeyKind, issue_key
from services.common.migrate import upgrade
from services.common.settings import REPO_ROOT, CommonSettings
from services.common.storage_mode import StorageMode, choose_storage_mode
from services.common.topics import Topics, ensure_topics
from tests.conftest import SCHEMAS_DIR

PG_PORT = int(os.environ.get("IOC_TEST_PG_PORT", "25442"))
KAFKA_PORT = int(os.environ.get("IOC_TEST_KAFKA_PORT", "19192"))
STACK_DIR = os.environ.get("IOC_TEST_STACK_DIR", str(REPO_ROOT / ".stack-test"))
ADMIN_URL = f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres"
TIMESCALEDB_INSTALLED = (
    subprocess.run([str(REPO_ROOT / "deploy" / "timescaledb.sh"), "check"], check=False).returncode
    == 0
)
TIMESCALEDB_CONTROL = Path("/usr/share/postgresql/15/extension/timescaledb.control")


def _installed_timescaledb_version() -> str | None:
    """The installed TimescaleDB's version, as its control file names it."""
    if not TIMESCALEDB_INSTALLED:
        return None
    match = re.search(r"default_version = '([^']+)'", TIMESCALEDB_CONTROL.read_text())
    return match.group(1) if match else None


TIMESCALEDB_VERSION = _installed_timescaledb_version()


def stack_env() -> dict[str, str]:
    return {
        **os.environ,
        "IOC_STACK_DIR": STACK_DIR,
        "IOC_PG_PORT": str(PG_PORT),
        "IOC_KAFKA_PORT": str(KAFKA_PORT),
    }


def run_stack(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [str(REPO_ROOT / "deploy" / "stack.sh"), *args],
        env={**stack_env(), **(env or {})},
        check=True,
    )


def run_stack_capture(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "deploy" / "stack.sh"), *args],
        env=stack_env(),
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass(frozen=True)
class StackUnderTest:
    kafka: KafkaConnection
    storage_mode: StorageMode


def session_storage_mode() -> StorageMode:
    """The mode this run tests (``IOC_STORAGE_MODE``), else TimescaleDB where installed."""
    return choose_storage_mode(
        os.environ.get("IOC_STORAGE_MODE"), timescaledb_available=TIMESCALEDB_INSTALLED
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that touches the store is marked ``storage``: `make test` runs those again
    on plain PostgreSQL. A test marked with one mode (``timescaledb``, ``postgres``) proves a
    promise of that mode alone: it is left out of the other mode's run."""
    other: StorageMode = "postgres" if session_storage_mode() == "timescaledb" else "timescaledb"
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.storage)
        (left_out if item.get_closest_marker(other) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session")
def stack() -> Iterator[StackUnderTest]:
    run_stack("up", "postgres", "kafka")
    try:
        mode = session_storage_mode()
        asyncio.run(_make_template(mode))
        yield StackUnderTest(KafkaConnection(f"127.0.0.1:{KAFKA_PORT}"), storage_mode=mode)
    finally:
        _templates.clear()
        if os.environ.get("IOC_TEST_KEEP_STACK") != "1":
            run_stack("down", "kafka", "postgres")


_templates: set[StorageMode] = set()


def template_name(mode: StorageMode) -> str:
    return f"ioc_template_{mode}"


async def _make_template(mode: StorageMode) -> None:
    """A migrated database in that mode that tests clone, made once per run. Nothing may be
    connected to a template while it is cloned, and TimescaleDB's scheduler connects to every
    database that allows it: so the template, once migrated, allows no connections."""
    if mode in _templates:
        return
    name = template_name(mode)
    url = f"postgresql://postgres@127.0.0.1:{PG_PORT}/{name}"
    await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await _admin(f"CREATE DATABASE {name}")
    await asyncio.to_thread(upgrade, url, storage_mode=mode)
    if mode == "timescaledb":
        await _quiet_jobs(url, name)
    await _admin(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
    await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    _templates.add(mode)


async def _quiet_jobs(url: str, name: str) -> None:
    """Stops the template's scheduler and forgets how its jobs ran. Its jobs, started as
    connections were being refused, were recorded as failed, and every clone inherited a
    retention policy "failing" until its next run, a day later (a fresh-clone run saw it)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SELECT _timescaledb_functions.stop_background_workers()")
        for _ in range(100):  # the scheduler's job workers stop with it
            running = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                "pg_backend_pid() AND backend_type <> 'client backend'",
                name,
            )
            if running == 0:
                break
            await asyncio.sleep(0.1)
        history = "_timescaledb_internal.bgw_job_stat, _timescaledb_internal.bgw_job_stat_history"
        await connection.execute(f"TRUNCATE {history}")
    finally:
        await connection.close()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(stack: StackUnderTest) -> AsyncIterator[str]:
    """A fresh, migrated database for this test alone."""
    url = await fresh_database_url()
    yield url
    await drop_database(url)


async def drop_database(url: str) -> None:
    await _admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


async def fresh_database_url(mode: StorageMode | None = None) -> str:
    """A new database cloned from the migrated template of that mode (by default the run's)."""
    mode = mode or session_storage_mode()
    await _make_template(mode)
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(f"CREATE DATABASE {name} TEMPLATE {template_name(mode)}")
    return f"postgresql://postgres@127.0.0.1:{PG_PORT}/{name}"


async def empty_database_url() -> str:
    """A new, empty database (not migrated), dropped with the test stack's data."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{PG_PORT}/{name}"


async def _admin(statement: str) -> None:
    # A connection per statement: a test may have restarted the server in between.
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest_asyncio.fixture(loop_scope="session")
async def db(database_url: str) -> AsyncIterator[Any]:
    """A connection to this test's database; it reconnects if a test restarts the server."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield _Reconnecting(pool)
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def db_connection(db: Any) -> AsyncIterator[Any]:
    """A real connection from the ``db`` fixture's pool, for code that takes one."""
    async with db.pool.acquire() as connection:
        yield connection


class _Reconnecting:
    """The few asyncpg calls the tests make, each on a pooled connection that is checked first."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def fetch(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as connection:
            return await connection.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as connection:
            return await connection.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as connection:
            return await connection.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as connection:
            return await connection.execute(query, *args)


@pytest_asyncio.fixture(loop_scope="session")
async def settings(
    stack: StackUnderTest, database_url: str, feeds: dict[str, FeedDefinition]
) -> AsyncIterator[CommonSettings]:
    """Settings for this test: its own database, and topics of its own on the test broker,
    deleted afterwards (a broker holding every test's partitions restarts slowly)."""
    topics = Topics(namespace=f"t{uuid.uuid4().hex[:10]}.")
    partitions = topics.partitions(feeds)
    await ensure_topics(stack.kafka, partitions)
    yield settings_for(database_url, stack.kafka, topics)
    await delete_topics(stack.kafka, list(partitions))


def settings_for(database_url: str, kafka: KafkaConnection, topics: Topics) -> CommonSettings:
    """The services' settings for a test's own database, broker and topics."""
    return replace(
        CommonSettings.from_env({}),
        database_url=database_url,
        kafka=kafka,
        topics=topics,
        schemas_dir=SCHEMAS_DIR,
    )


async def new_key(database_url: str, kind: KeyKind, subject: str) -> str:
    """A key issued in that database, for a test that has no connection of its own to use."""
    connection = await asyncpg.connect(database_url)
    try:
        _, key = await issue_key(connection, kind, subject)
        return key
    finally:
        await connection.close()


async def delete_topics(kafka: KafkaConnection, names: list[str]) -> None:
    admin = admin_client(kafka)
    await admin.start()
    try:
        await admin.delete_topics(names)
    except KafkaError:  # the broker is down at the end of a fault test: nothing to tidy
        pass
    finally:
        await admin.close()
