"""Settings shared by every service: where PostgreSQL and Kafka are, and the rules the push and
the worker both apply.

Each service builds its own frozen settings once at its entry point and passes them down; nothing
reads the environment anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from services.common.topics import Topics

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/ioc"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class CommonSettings:
    database_url: str
    kafka_bootstrap: str
    topics: Topics
    schemas_dir: Path
    future_bound: timedelta  # how far ahead of the clock an event time may be (push and worker)
    open_data_dir: Path  # where `ioc export` writes the open-data files the API serves

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CommonSettings:
        database_url = env_secret(env, "IOC_DATABASE_URL") or DEFAULT_DATABASE_URL
        if not database_url.startswith(("postgresql://", "postgres://")):
            # Not the value itself: it may hold a password.
            raise SettingsError("IOC_DATABASE_URL must be a postgresql:// URL")
        return cls(
            database_url=database_url,
            kafka_bootstrap=env.get("IOC_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP),
            topics=Topics(env.get("IOC_TOPIC_NAMESPACE", "")),
            schemas_dir=Path(env.get("IOC_SCHEMAS_DIR", str(REPO_ROOT / "schemas"))),
            future_bound=timedelta(seconds=env_float(env, "IOC_FUTURE_BOUND_S", 300.0)),
            open_data_dir=Path(
                env.get("IOC_OPEN_DATA_DIR", str(REPO_ROOT / ".stack" / "open-data"))
            ),
        )


def env_secret(env: Mapping[str, str], name: str) -> str | None:
    """A setting that may be a secret: ``NAME`` itself, or the content of the file ``NAME_FILE``
    names (a Kubernetes or systemd credential file), never both."""
    path = env.get(f"{name}_FILE")
    if path is None:
        return env.get(name)
    if name in env:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SettingsError(f"{name}_FILE: cannot read {path}: {error.strerror}") from None


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
