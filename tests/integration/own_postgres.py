"""A PostgreSQL cluster of a test's own, for what the shared test stack cannot be made to do
(archive its WAL, demand TLS): made with initdb in a folder the server's owner can reach, in the
stack's storage mode, with a database ``ioc``, stopped and removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.common.storage_mode import StorageMode

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def pg_owner() -> str | None:
    """The user the server runs as: ``postgres`` when the tests run as root."""
    return "postgres" if os.geteuid() == 0 else None


def as_pg_owner(*command: str, check: bool = True) -> None:
    owner = pg_owner()
    prefix = ["runuser", "-u", owner, "--"] if owner else []
    done = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, done.stderr


def give_to_pg_owner(*paths: Path) -> None:
    owner = pg_owner()
    if owner:
        for path in paths:
            shutil.chown(path, owner)


@contextmanager
def postgres_home(prefix: str) -> Iterator[Path]:
    """A folder the server's owner can reach (a test's tmp_path is private to root)."""
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    home.chmod(0o755)
    give_to_pg_owner(home)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def running_postgres(
    home: Path, port: int, mode: StorageMode, settings: list[str], hba: str | None = None
) -> Iterator[Path]:
    """The cluster in ``home/data`` on ``port`` with ``settings`` added to its configuration
    (and ``hba`` as its pg_hba.conf), running until the block ends; yields its data folder."""
    data = home / "data"
    as_pg_owner(
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    common = [
        f"port = {port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{home}'",
        "timezone = 'UTC'",
    ]
    if mode == "timescaledb":
        common += ["shared_preload_libraries = 'timescaledb'", "timescaledb.telemetry_level = off"]
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\n".join([*common, *settings]) + "\n")
    if hba is not None:
        (data / "pg_hba.conf").write_text(hba, encoding="utf-8")
    pg_ctl = str(PG_BIN / "pg_ctl")
    as_pg_owner(pg_ctl, "-D", str(data), "-l", str(home / "postgres.log"), "-w", "start")
    try:
        # Over the socket: trusted whatever pg_hba.conf asks of TCP.
        as_pg_owner(
            str(PG_BIN / "createdb"), "-h", str(home), "-p", str(port), "-U", "postgres", "ioc"
        )
        yield data
    finally:
        as_pg_owner(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
