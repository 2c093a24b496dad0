"""The two storage modes: TimescaleDB when the extension is installed, plain PostgreSQL otherwise.

The mode is chosen once, when the store is first migrated, and recorded in ``storage_info``.
"""

from __future__ import annotations

from typing import Literal

StorageMode = Literal["timescaledb", "postgres"]
MODES: tuple[StorageMode, ...] = ("timescaledb", "postgres")


class StorageModeError(RuntimeError):
    """The requested storage mode cannot be had here."""


def choose_storage_mode(requested: str | None, *, timescaledb_available: bool) -> StorageMode:
    if requested in (None, ""):
        return "timescaledb" if timescaledb_available else "postgres"
    if requested == "timescaledb":
        if not timescaledb_available:
            raise StorageModeError(
                "IOC_STORAGE_MODE=timescaledb, but the timescaledb extension is not installed "
                "in this PostgreSQL; install it or use IOC_STORAGE_MODE=postgres"
            )
        return "timescaledb"
    if requested == "postgres":
        return "postgres"
    raise StorageModeError(f"IOC_STORAGE_MODE must be timescaledb or postgres, got {requested!r}")
