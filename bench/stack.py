"""The benchmark's own stack: deploy/stack.sh in .stack-bench/ on ports of its own, so a bench
never disturbs `make up` or a test run."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import asyncpg
import httpx

from services.common.kafka import KafkaConnection, admin_client
from services.common.migrate import upgrade
from services.common.settings import REPO_ROOT
from services.common.storage_mode import MODES, StorageMode, choose_storage_mode
from services.common.topics import Topics, ensure_topics

PG_PORT = int(os.environ.get("IOC_BENCH_PG_PORT", "25472"))
KAFKA_PORT = int(os.environ.get("IOC_BENCH_KAFKA_PORT", "19222"))
BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
KAFKA = KafkaConnection(BOOTSTRAP)  # the bench's own broker on loopback


def stack_env() -> dict[str, str]:
    return {
        **os.environ,
        "IOC_STACK_DIR": str(REPO_ROOT / ".stack-bench"),
        "IOC_PG_PORT": str(PG_PORT),
        "IOC_KAFKA_PORT": str(KAFKA_PORT),
    }


def run_stack(*args: str) -> None:
    subprocess.run([str(REPO_ROOT / "deploy" / "stack.sh"), *args], env=stack_env(), check=True)
    if args[0] == "up":
        clear()


def clear() -> None:
    """Removes what earlier runs left on the bench's own stack (databases, topics), so runs do
    not pile up gigabytes; a crashed run's leftovers go too."""

    async def remove() -> None:
        connection = await asyncpg.connect(database_url("postgres"))
        try:
            names = await connection.fetch(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"
            )
            for row in names:
                await connection.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
        finally:
            await connection.close()
        admin = admin_client(KAFKA)
        await admin.start()
        try:
            topics = [name for name in await admin.list_topics() if not name.startswith("__")]
            if topics:
                await admin.delete_topics(topics)
        finally:
            await admin.close()

    asyncio.run(remove())


def database_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{PG_PORT}/{name}"


def storage_modes() -> list[StorageMode]:
    """The modes a bench measures: ``IOC_STORAGE_MODE`` alone when set, else both where
    TimescaleDB is installed (TimescaleDB first, the mode users run), else plain."""
    requested = os.environ.get("IOC_STORAGE_MODE")
    if requested:
        return [choose_storage_mode(requested, timescaledb_available=timescaledb_installed())]
    return list(MODES) if timescaledb_installed() else ["postgres"]


def timescaledb_installed() -> bool:
    check = [str(REPO_ROOT / "deploy" / "timescaledb.sh"), "check"]
    return subprocess.run(check, check=False).returncode == 0


def fresh_database(prefix: str, mode: StorageMode | None = None) -> str:
    """A new database migrated in ``mode`` (by default the first of ``storage_modes``)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = await asyncpg.connect(database_url("postgres"))
        try:
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()

    asyncio.run(create())
    upgrade(database_url(name), storage_mode=mode or storage_modes()[0])
    return database_url(name)


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]

    async def drop() -> None:
        admin = await asyncpg.connect(database_url("postgres"))
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()

    asyncio.run(drop())


def service_env(database: str, namespace: str, **extra: str) -> dict[str, str]:
    """The environment of a service process on the bench's stack, database and topics."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        "IOC_DATABASE_URL": database,
        "IOC_KAFKA_BOOTSTRAP": BOOTSTRAP,
        "IOC_TOPIC_NAMESPACE": namespace,
        **extra,
    }


# Pushes a benchmark sends are not to be throttled by the per-key rate limit.
UNLIMITED_PUSHES = {"IOC_PUSH_RATE_PER_S": "100000", "IOC_PUSH_BURST": "100000"}


def services_on_their_own(
    prefix: str, feeds: Iterable[str], **extra: str
) -> tuple[dict[str, str], Topics]:
    """A fresh database and topics of their own on the bench's stack, and the environment of
    a service process using them."""
    database = fresh_database(prefix)
    topics = Topics(namespace=f"{prefix}{uuid.uuid4().hex[:6]}.")
    asyncio.run(ensure_topics(KAFKA, topics.partitions(feeds)))
    return service_env(database, topics.namespace, **extra), topics


def issue_key(env: dict[str, str], *who: str) -> str:
    """A new key (``--reader NAME`` or ``--agency ID``), as `ioc keys issue` prints it."""
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", "issue", *who],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(
    args: list[str], env: dict[str, str], ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``python <args>`` running until the block ends, once ``ready_url`` answers."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(ready_url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
