"""The two storage modes: TimescaleDB when the extension is installed, plain PostgreSQL otherwise.

The mode is chosen once, when the store is first migrated, and recorded in ``storage_info``.
"""

from __future__ import annotations

from typing import Literal, cast

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


def check_recorded_mode(recorded: str, requested: str | None) -> StorageMode:
    """A store keeps the mode it was created in: migrating it as the other is refused."""
    if recorded not in MODES:
        raise StorageModeError(f"the store records an unknown storage mode {recorded!r}")
    if requested not in (None, "", recorded):
        raise StorageModeError(
            f"this store was created in {recorded} mode and cannot be migrated as {requested}; "
            "use a new database for the other mode (docs/adr/2026-11-29-timescaledb-first.md "
            "says how to move a plain store to TimescaleDB)"
        )
    return cast(StorageMode, recorded)
