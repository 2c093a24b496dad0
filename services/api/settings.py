"""The API's settings, built once by ``ioc api``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from services.api.reminders.settings import ReminderSettings
from services.api.units.settings import ScorecardSettings
from services.common.settings import CommonSettings, env_float, env_int


@dataclass(frozen=True, slots=True)
class ApiSettings:
    common: CommonSettings
    host: str
    port: int
    max_page: int  # the most rows one observations request returns
    push_max_bytes: int  # the largest push body accepted
    # The most messages one push holds. 5 MiB is 10,000 messages of ~520 bytes; the departments'
    # are 140-280 (their examples), so a real batch of 10,000 fits the byte limit, and a body of
    # tiny ones ([0,0,...]: 2.6 million in 5 MiB, each answered with its rejection) meets this.
    push_max_messages: int
    broker_timeout_s: float  # how long a push waits for the broker's acknowledgement
    push_read_timeout_s: float  # how long a push body may take to arrive
    push_rate_per_s: float  # pushes a second per key, sustained
    push_burst: float  # ... and in a burst
    idempotency_kept: timedelta  # how long a push's Idempotency-Key, and its answer, are kept
    idempotency_purge_every_s: float  # how often the keys kept that long are deleted
    freshness_refresh_s: float  # how often the feed freshness gauges are refreshed
    indicator_refresh_s: float  # how often the wall's indicators are re-evaluated at the latest
    key_cache_s: float  # how long a found key is remembered: a revocation's delay at most
    key_usage_every_s: float  # how often the keys' last uses are written (one statement)
    sta_public_connections: int  # the most pool connections keyless reads hold at once
    sta_public_wait_s: float  # how long a keyless read waits for one before its 503
    sta_public_timeout_s: float  # the longest a keyless read's statement runs
    stream_max_per_key: int  # the most /v1/stream connections one key holds open (a process)
    stream_key_check_s: float  # how often an open stream asks whether its key was revoked
    storage_jobs_refresh_s: float  # how often TimescaleDB's job statuses are read for /metrics
    upload_max_bytes: int  # the largest spreadsheet accepted (IOC_UPLOAD_MAX_BYTES)
    upload_max_rows: int  # the most data rows one upload holds
    upload_read_timeout_s: float  # how long an upload's file may take to arrive
    upload_kept: timedelta  # how long an uploaded file is kept (its receipt stays)
    upload_purge_every_s: float  # how often files kept that long are deleted
    upload_concurrency: int  # the most uploads one API process serves at once
    reminders: ReminderSettings
    scorecards: ScorecardSettings

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, *, port: int | None = None
    ) -> ApiSettings:
        return cls(
            common=CommonSettings.from_env(env),
            host=env.get("IOC_API_HOST", "127.0.0.1"),
            port=port if port is not None else env_int(env, "IOC_API_PORT", 8000),
            max_page=env_int(env, "IOC_API_MAX_PAGE", 10_000),
            push_max_bytes=env_int(env, "IOC_PUSH_MAX_BYTES", 5 * 1024 * 1024),
            push_max_messages=env_int(env, "IOC_PUSH_MAX_MESSAGES", 10_000),
            broker_timeout_s=env_float(env, "IOC_BROKER_TIMEOUT_S", 10.0),
            push_read_timeout_s=env_float(env, "IOC_PUSH_READ_TIMEOUT_S", 30.0),
            push_rate_per_s=env_float(env, "IOC_PUSH_RATE_PER_S", 20.0),
            push_burst=env_float(env, "IOC_PUSH_BURST", 40.0),
            idempotency_kept=timedelta(seconds=env_float(env, "IOC_IDEMPOTENCY_KEPT_S", 86_400.0)),
            idempotency_purge_every_s=env_float(env, "IOC_IDEMPOTENCY_PURGE_EVERY_S", 3_600.0),
            freshness_refresh_s=env_float(env, "IOC_FRESHNESS_REFRESH_S", 5.0),
            indicator_refresh_s=env_float(env, "IOC_INDICATOR_REFRESH_S", 5.0),
            key_cache_s=env_float(env, "IOC_KEY_CACHE_S", 5.0),
            key_usage_every_s=env_float(env, "IOC_KEY_USAGE_EVERY_S", 60.0),
            sta_public_connections=env_int(env, "IOC_STA_PUBLIC_CONNECTIONS", 4),
            sta_public_wait_s=env_float(env, "IOC_STA_PUBLIC_WAIT_S", 2.0),
            sta_public_timeout_s=env_float(env, "IOC_STA_PUBLIC_TIMEOUT_S", 10.0),
            stream_max_per_key=env_int(env, "IOC_STREAM_MAX_PER_KEY", 20),
            stream_key_check_s=env_float(env, "IOC_STREAM_KEY_CHECK_S", 30.0),
            storage_jobs_refresh_s=env_float(env, "IOC_STORAGE_JOBS_REFRESH_S", 30.0),
            upload_max_bytes=env_int(env, "IOC_UPLOAD_MAX_BYTES", 20 * 1024 * 1024),
            upload_max_rows=env_int(env, "IOC_UPLOAD_MAX_ROWS", 100_000),
            upload_read_timeout_s=env_float(env, "IOC_UPLOAD_READ_TIMEOUT_S", 120.0),
            upload_kept=timedelta(days=env_float(env, "IOC_UPLOAD_KEPT_DAYS", 90.0)),
            upload_purge_every_s=env_float(env, "IOC_UPLOAD_PURGE_EVERY_S", 3_600.0),
            upload_concurrency=env_int(env, "IOC_UPLOAD_CONCURRENCY", 4),
            reminders=ReminderSettings.from_env(env),
            scorecards=ScorecardSettings.from_env(env),
        )
