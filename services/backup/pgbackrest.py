"""Backups of the store by pgBackRest: full, differential and incremental backups beside the WAL
archive PostgreSQL pushes continuously (``archive_command``), and a restore to any point in
time they cover. This module runs pgBackRest and the PostgreSQL server it restores; it runs on
the database host, as the server's owner. ``docs/deploy.md`` shows the configuration.

After a restore the store holds what was committed up to the point asked; Kafka still holds
everything since, and ``offsets.rewind_to_store`` points the workers' group back at what the
store holds, so they ingest the rest again (idempotently: every record once).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

BACKUP_TYPES = ("full", "diff", "incr")


class BackupError(RuntimeError):
    """pgBackRest or the server refused: the message carries what they said."""


@dataclass(frozen=True, slots=True)
class BackupSettings:
    stanza: str  # pgBackRest's name for this store's cluster
    config: Path  # pgBackRest's configuration file (repository, data directory, port)
    data_dir: Path  # the PostgreSQL data directory (restore stops and starts that server)
    pg_bin: Path  # where pg_ctl is
    run_as: str | None  # the server's owner, when the command runs as root

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BackupSettings:
        return cls(
            stanza=env.get("IOC_PGBACKREST_STANZA", "ioc"),
            config=Path(env.get("IOC_PGBACKREST_CONFIG", "/etc/pgbackrest/pgbackrest.conf")),
            data_dir=Path(env.get("IOC_PG_DATA", "/var/lib/postgresql/15/main")),
            pg_bin=Path(env.get("IOC_PG_BIN", "/usr/lib/postgresql/15/bin")),
            run_as=env.get("IOC_PG_OWNER", "postgres" if os.geteuid() == 0 else None),
        )


def _run(settings: BackupSettings, *command: str, timeout_s: float = 3600) -> str:
    prefix = ["runuser", "-u", settings.run_as, "--"] if settings.run_as else []
    done = subprocess.run(  # noqa: S603 - the operator's settings; no request reaches here
        [*prefix, *command], capture_output=True, text=True, check=False, timeout=timeout_s
    )
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()
        raise BackupError(f"{command[0]} failed ({done.returncode}): {said}")
    return done.stdout


def _pgbackrest(settings: BackupSettings, *args: str) -> str:
    return _run(
        settings, "pgbackrest", f"--config={settings.config}", f"--stanza={settings.stanza}", *args
    )


def create_stanza(settings: BackupSettings) -> None:
    """Once per store: pgBackRest's repository for it, checked against the running server."""
    _pgbackrest(settings, "stanza-create")
    _pgbackrest(settings, "check")


def backup(settings: BackupSettings, kind: str = "incr") -> str:
    """A backup of the running store (``full``, ``diff`` or ``incr``: an incremental without a
    full before it is made full). Returns pgBackRest's label of it."""
    if kind not in BACKUP_TYPES:
        raise BackupError(f"unknown backup type {kind!r}: {', '.join(BACKUP_TYPES)}")
    _pgbackrest(settings, f"--type={kind}", "--start-fast", "backup")
    return latest_backup(settings)


def latest_backup(settings: BackupSettings) -> str:
    info = json.loads(_pgbackrest(settings, "--output=json", "info"))
    backups = info[0]["backup"] if info else []
    if not backups:
        raise BackupError("the repository holds no backup of this stanza")
    label: str = backups[-1]["label"]
    return label


def restore_to(settings: BackupSettings, moment: datetime) -> None:
    """Stops the server, restores the store as it was at ``moment`` (the newest backup before it
    and the WAL archive up to it), and starts it again to be promoted: writable, on a new
    timeline (``offsets.wait_until_writable`` waits for that). The workers must be stopped
    first: they would write into a store being replaced."""
    if moment.tzinfo is None:
        raise BackupError("the point in time needs its time zone (for example +07:00 or Z)")
    pg_ctl = str(settings.pg_bin / "pg_ctl")
    data = str(settings.data_dir)
    if _running(settings):
        # The WAL written since the last segment switch is archived first (pgBackRest's check
        # switches segments and waits for the archive), so the restore can reach the newest
        # commit; then the server stops.
        _pgbackrest(settings, "check")
        _run(settings, pg_ctl, "-D", data, "-m", "fast", "-w", "stop")
    _pgbackrest(
        settings,
        "--delta",
        "--type=time",
        f"--target={moment.isoformat(sep=' ')}",
        "--target-action=promote",
        "restore",
    )
    _run(settings, pg_ctl, "-D", data, "-l", str(settings.data_dir / "restore.log"), "-w", "start")


def _running(settings: BackupSettings) -> bool:
    try:
        _run(settings, str(settings.pg_bin / "pg_ctl"), "-D", str(settings.data_dir), "status")
    except BackupError:
        return False
    return True
