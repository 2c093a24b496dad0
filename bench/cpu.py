"""CPU seconds used so far by the bench stack's processes, read from /proc: where a run's time
goes (the workers, PostgreSQL, Kafka), in figures beside the rates."""

from __future__ import annotations

import os
from pathlib import Path

from services.common.settings import REPO_ROOT

STACK = REPO_ROOT / ".stack-bench"
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state, ppid, ..."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _times(pid: int) -> list[int]:
    """utime, stime, cutime, cstime, in clock ticks."""
    return [int(field) for field in _stat(pid)[11:15]]


def process_seconds(pid: int) -> float:
    utime, stime, _, _ = _times(pid)
    return (utime + stime) / TICKS


def postgres_seconds() -> float:
    """The postmaster's, its reaped backends' (counted in its children's times) and its live
    backends'."""
    postmaster = int(Path(STACK / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    total = sum(_times(postmaster)) / TICKS
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat(int(entry.name))[1]) == postmaster:
                total += process_seconds(int(entry.name))
        except (OSError, ValueError):  # gone meanwhile
            continue
    return total


def kafka_seconds() -> float:
    return process_seconds(int((STACK / "run" / "kafka.pid").read_text().strip()))


class MachineBusy:
    """The share of the machine's CPU time busy (not idle, not waiting for I/O) since made."""

    def __init__(self) -> None:
        self.start = _machine_ticks()

    def share(self) -> float:
        busy, total = (now - then for now, then in zip(_machine_ticks(), self.start, strict=True))
        return busy / total if total else 0.0


def _machine_ticks() -> tuple[int, int]:
    """Busy and total clock ticks of all CPUs, from /proc/stat's first line."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    total = sum(ticks[:8])  # user .. steal (guest time is counted in user already)
    return total - idle, total
