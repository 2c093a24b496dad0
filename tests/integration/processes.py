"""The services as real processes (``python -m services.cli ...``) for tests that need a port."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from services.common.settings import REPO_ROOT, CommonSettings

# Ports for the tests' own servers. The kernel's bind(0) may give the same port to two calls in a
# row (seen: an API and a worker both given 33627, and only one could listen), and its range
# (32768-60999) is the one outgoing connections take theirs from. So each port is handed out
# once a run, from below that range and between the stacks' fixed ports (Kafka's at 19xxx,
# PostgreSQL's at 254xx), and checked free then.
_PORTS = range(20_000, 25_000)
_START = random.randrange(len(_PORTS))  # a second run at once starts elsewhere
_candidates: Iterator[int] = itertools.cycle([*_PORTS[_START:], *_PORTS[:_START]])


def free_port() -> int:
    for port in itertools.islice(_candidates, len(_PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # another process's, or one of ours still closing
                continue
            return port
    raise RuntimeError(f"no free port from {_PORTS.start} to {_PORTS.stop - 1}")


def service_env(settings: CommonSettings, **extra: str) -> dict[str, str]:
    """The environment a service process needs to use the test's database and topics."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IOC_", "PROMETHEUS_"))},
        "IOC_DATABASE_URL": settings.database_url,
        **settings.kafka.environment(),
        "IOC_TOPIC_NAMESPACE": settings.topics.namespace,
        "IOC_SCHEMAS_DIR": str(settings.schemas_dir),
        **extra,
    }


def run_ioc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``ioc <args>`` to its end, its output captured (the caller checks its exit code)."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for_url(url: str, process: subprocess.Popen[bytes], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the process for {url} exited ({process.returncode})") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_worker(
    settings: CommonSettings, extra: dict[str, str], *, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``ioc worker`` as a process of its own, for a test to kill, time or measure."""
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker"],
            cwd=REPO_ROOT,
            env=service_env(settings, **{"IOC_WORKER_METRICS_PORT": "0", **extra}),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            output.close()  # type: ignore[union-attr]  # the process holds its own copy


@contextmanager
def running_service(
    args: Sequence[str], env: dict[str, str], ready_url: str, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``ioc <args>`` running until the block ends (SIGTERM, then waited for)."""
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_url(ready_url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            output.close()  # type: ignore[union-attr]
