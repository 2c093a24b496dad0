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
        database_url = env.get("IOC_DATABASE_URL", DEFAULT_DATABASE_URL)
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError(
                f"IOC_DATABASE_URL must be a postgresql:// URL, got {database_url!r}"
            )
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
