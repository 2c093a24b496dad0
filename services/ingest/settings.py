"""The ingest worker's settings, built once by ``ioc worker``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import CommonSettings, env_float, env_int


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    common: CommonSettings
    group_id: str
    batch_max_records: int
    batch_max_age_ms: int
    metrics_port: int  # 0: no metrics server (tests)
    metrics_host: str  # where the metrics server listens: 0.0.0.0 in a pod, for its probes
    db_retry_max_s: float  # longest pause between retries while the database is away
    db_statement_timeout_s: float  # a write waiting longer (a lock, say) counts as unavailable
    invalid_ratio_limit: float  # a feed whose recent records are this invalid is halted
    invalid_ratio_window: int  # ... over this many records

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WorkerSettings:
        return cls(
            common=CommonSettings.from_env(env),
            group_id=env.get("IOC_WORKER_GROUP", "ioc-ingest"),
            batch_max_records=env_int(env, "IOC_BATCH_MAX_RECORDS", 5000),
            batch_max_age_ms=env_int(env, "IOC_BATCH_MAX_AGE_MS", 500),
            metrics_port=env_int(env, "IOC_WORKER_METRICS_PORT", 9101),
            metrics_host=env.get("IOC_WORKER_METRICS_HOST", "127.0.0.1"),
            db_retry_max_s=env_float(env, "IOC_DB_RETRY_MAX_S", 10.0),
            db_statement_timeout_s=env_float(env, "IOC_DB_STATEMENT_TIMEOUT_S", 30.0),
            invalid_ratio_limit=env_float(env, "IOC_INVALID_RATIO_LIMIT", 0.9),
            invalid_ratio_window=env_int(env, "IOC_INVALID_RATIO_WINDOW", 100),
        )
