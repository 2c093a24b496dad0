"""Telling systemd how a service is doing (``sd_notify``): READY=1 once it serves, STOPPING=1 as
it drains. A unit of ``Type=notify`` waits for READY before it counts the service started, so a
unit ordered after it starts only when it really serves. Without ``NOTIFY_SOCKET`` (not run by
systemd) nothing is sent."""

from __future__ import annotations

import os
import socket


def notify(*states: str) -> bool:
    """Sends ``states`` (``READY=1``, ``STOPPING=1``, ``STATUS=...``); True when sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall("\n".join(states).encode())
    return True
