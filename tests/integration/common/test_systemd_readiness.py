"""The services tell systemd when they are ready (the units are Type=notify): a real API and a
real worker process send READY=1 to the socket systemd would give them, and STOPPING=1 as they
stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.common.settings import CommonSettings
from tests.integration.processes import free_port, running_service, service_env, start_worker

pytestmark = pytest.mark.integration


def _listening(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(60)
    return listener


@pytest.mark.asyncio(loop_scope="session")
async def test_the_api_and_a_worker_say_ready_then_stopping(
    settings: CommonSettings, tmp_path: Path
) -> None:
    with _listening(tmp_path / "api.sock") as listener:
        port = free_port()
        env = service_env(settings, NOTIFY_SOCKET=str(tmp_path / "api.sock"))
        with running_service(["api", "--port", str(port)], env, f"http://127.0.0.1:{port}/healthz"):
            assert listener.recv(1024).startswith(b"READY=1")
        assert listener.recv(1024).startswith(b"STOPPING=1")

    with _listening(tmp_path / "worker.sock") as listener:
        worker = start_worker(settings, {"NOTIFY_SOCKET": str(tmp_path / "worker.sock")})
        try:
            assert listener.recv(1024).startswith(b"READY=1")
        finally:
            worker.terminate()
            worker.wait(timeout=60)
        assert listener.recv(1024).startswith(b"STOPPING=1")
