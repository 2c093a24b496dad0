"""sd_notify over a real datagram socket, as systemd listens for it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.common.systemd import notify


def test_states_reach_the_socket_systemd_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        assert notify("READY=1", "STATUS=serving") is True
        assert listener.recv(1024) == b"READY=1\nSTATUS=serving"


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
