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

from services.common.kafka import SASL_MECHANISMS, SECURITY_PROTOCOLS, KafkaConnection
from services.common.topics import Topics

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/ioc"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class CommonSettings:
    database_url: str
    kafka: KafkaConnection
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
            kafka=kafka_from_env(env),
            topics=Topics(env.get("IOC_TOPIC_NAMESPACE", "")),
            schemas_dir=Path(env.get("IOC_SCHEMAS_DIR", str(REPO_ROOT / "schemas"))),
            future_bound=timedelta(seconds=env_float(env, "IOC_FUTURE_BOUND_S", 300.0)),
            open_data_dir=Path(
                env.get("IOC_OPEN_DATA_DIR", str(REPO_ROOT / ".stack" / "open-data"))
            ),
        )


def kafka_from_env(env: Mapping[str, str]) -> KafkaConnection:
    """The Kafka connection every client of the project uses (docs/deploy.md lists the names)."""
    named = env.get("IOC_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    protocol = next((known for known in SECURITY_PROTOCOLS if known == named), None)
    if protocol is None:
        raise SettingsError(
            f"IOC_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
            f"got {named!r}"
        )
    mechanism = env.get("IOC_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper()
    if mechanism not in SASL_MECHANISMS:
        raise SettingsError(
            f"IOC_KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, "
            f"got {mechanism!r}"
        )
    files = {name: _kafka_file(env, name) for name in ("CA", "CERT", "KEY")}
    if protocol == "PLAINTEXT" and any(files.values()):
        raise SettingsError(
            "IOC_KAFKA_CA_FILE, _CERT_FILE and _KEY_FILE need "
            "IOC_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"
        )
    if (files["CERT"] is None) != (files["KEY"] is None):
        raise SettingsError("IOC_KAFKA_CERT_FILE and IOC_KAFKA_KEY_FILE go together")
    username, password = env.get("IOC_KAFKA_USERNAME"), env_secret(env, "IOC_KAFKA_PASSWORD")
    if protocol == "SASL_SSL" and not (username and password):
        raise SettingsError(
            "IOC_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs IOC_KAFKA_USERNAME and "
            "IOC_KAFKA_PASSWORD (or IOC_KAFKA_PASSWORD_FILE)"
        )
    return KafkaConnection(
        bootstrap=env.get("IOC_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP),
        security_protocol=protocol,
        ca_file=files["CA"],
        cert_file=files["CERT"],
        key_file=files["KEY"],
        key_password=env_secret(env, "IOC_KAFKA_KEY_PASSWORD"),
        sasl_mechanism=mechanism,
        username=username,
        password=password,
    )


def _kafka_file(env: Mapping[str, str], name: str) -> Path | None:
    """``IOC_KAFKA_<name>_FILE``: a file that must exist now, not at the first connection."""
    variable = f"IOC_KAFKA_{name}_FILE"
    raw = env.get(variable)
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(f"{variable}: no such file {raw}")
    return path


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
