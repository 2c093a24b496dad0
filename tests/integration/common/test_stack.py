"""deploy/stack.sh, as `make up` uses it: idempotent, and clear when it cannot start."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import REPO_ROOT
from tests.integration.conftest import TIMESCALEDB_INSTALLED, StackUnderTest, run_stack_capture

pytestmark = pytest.mark.integration
STACK = str(REPO_ROOT / "deploy" / "stack.sh")


def test_a_second_up_says_it_is_running_and_changes_nothing(stack: StackUnderTest) -> None:
    result = run_stack_capture("up", "postgres", "kafka")
    assert result.returncode == 0
    assert "postgres already running" in result.stdout
    assert "kafka already running" in result.stdout
    assert "starting" not in result.stdout


@pytest.mark.parametrize(
    ("service", "variable"), [("postgres", "IOC_PG_PORT"), ("kafka", "IOC_KAFKA_PORT")]
)
def test_a_taken_port_gives_a_clear_error(tmp_path: Path, service: str, variable: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [STACK, "up", service],
            env={
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "IOC_STACK_DIR": str(tmp_path),
                variable: str(port),
                "IOC_KAFKA_CONTROLLER_PORT": str(port + 1),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"port {port}, wanted by {service}, is taken by another process" in result.stderr
    assert f"set {variable}" in result.stderr


@pytest.mark.asyncio(loop_scope="session")
async def test_the_cluster_keeps_every_durability_setting_on(db: Any) -> None:
    """The guard against drift: nothing accepted is lost only while these stay on."""
    settings = {
        name: await db.fetchval(f"SHOW {name}")
        for name in ("fsync", "synchronous_commit", "full_page_writes")
    }
    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


@pytest.mark.asyncio(loop_scope="session")
async def test_the_cluster_preloads_timescaledb_and_never_calls_out(db: Any) -> None:
    """A government system does not phone home: TimescaleDB's telemetry is off in every cluster
    the project makes, and the extension is preloaded wherever it is installed."""
    assert await db.fetchval("SHOW timescaledb.telemetry_level") == "off"
    preloaded = await db.fetchval("SHOW shared_preload_libraries")
    assert preloaded == ("timescaledb" if TIMESCALEDB_INSTALLED else "")
