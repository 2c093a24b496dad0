"""Failpoints: named places where the fault tests make the worker die on purpose.

A kill at a random moment rarely lands in the narrow window that matters most, between a batch's
database commit and its offset commit. ``IOC_FAILPOINT=after-write:N`` makes the worker SIGKILL
itself there, after its N-th written batch (FoundationDB and TiKV test the same way). Unset, as
in production, a failpoint costs one comparison.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping

log = logging.getLogger("ioc.ingest")


class Failpoint:
    def __init__(self, name: str, env: Mapping[str, str] = os.environ) -> None:
        self.name = name
        self.remaining = _armed_after(name, env.get("IOC_FAILPOINT", ""))

    def reach(self) -> None:
        """Counts one passage; the armed one kills the process, as a power cut would."""
        if self.remaining is None:
            return
        self.remaining -= 1
        if self.remaining == 0:
            log.warning("failpoint %s reached: killing the worker (SIGKILL)", self.name)
            os.kill(os.getpid(), signal.SIGKILL)


def _armed_after(name: str, spec: str) -> int | None:
    """``name:N`` arms the failpoint for its N-th passage; anything else leaves it disarmed."""
    wanted, _, count = spec.partition(":")
    if wanted != name:
        return None
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"IOC_FAILPOINT={spec!r}: expected {name}:N with N ≥ 1")
    return int(count)
