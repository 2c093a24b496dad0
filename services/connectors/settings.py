"""The connectors service's settings, built once by ``ioc connectors run``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.settings import CommonSettings, env_float, env_int
from services.connectors.fetch import RetryPolicy


@dataclass(frozen=True, slots=True)
class ConnectorsSettings:
    common: CommonSettings
    directory: Path  # the connector definitions `ioc connectors run` schedules
    metrics_port: int  # 0: no metrics server (tests, --once)
    metrics_host: str
    retry: RetryPolicy
    kafka_timeout_s: float  # how long a page's records may wait for Kafka's acknowledgement

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ConnectorsSettings:
        common = CommonSettings.from_env(env)
        return cls(
            common=common,
            directory=Path(env.get("IOC_CONNECTORS_DIR", str(common.schemas_dir / "connectors"))),
            metrics_port=env_int(env, "IOC_CONNECTORS_METRICS_PORT", 9120),
            metrics_host=env.get("IOC_CONNECTORS_METRICS_HOST", "127.0.0.1"),
            retry=RetryPolicy(
                attempts=env_int(env, "IOC_CONNECTOR_ATTEMPTS", 5),
                base_s=env_float(env, "IOC_CONNECTOR_BACKOFF_S", 1.0),
                cap_s=env_float(env, "IOC_CONNECTOR_BACKOFF_MAX_S", 60.0),
                max_page_bytes=env_int(env, "IOC_CONNECTOR_MAX_PAGE_BYTES", 64 * 1024 * 1024),
            ),
            kafka_timeout_s=env_float(env, "IOC_CONNECTOR_KAFKA_TIMEOUT_S", 30.0),
        )
