"""What each storage mode asks of the worker. TimescaleDB keeps its aggregates and runs its
policies itself; plain PostgreSQL has the worker keep the per-entity rollup tables exact in each
batch's transaction, refresh the rollups across entities every minute, and run its storage
policy hourly (partitions ahead, past retention dropped)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.common.db import DATABASE_UNAVAILABLE
from services.common.storage_mode import StorageMode
from services.ingest.rollups import refresh_across

log = logging.getLogger("ioc.ingest")


class StoreDuties(Protocol):
    keeps_rollups: bool  # the batch's transaction updates the per-entity rollup tables

    async def maintain_if_due(self) -> None: ...


class TimescaleDBDuties:
    keeps_rollups = False

    async def maintain_if_due(self) -> None:
        return  # TimescaleDB's own jobs: compression, retention, aggregate refresh


class PostgresDuties:
    keeps_rollups = True
    EVERY_S = 3600.0
    REFRESH_EVERY_S = 60.0  # as TimescaleDB's aggregates: the hourly series' tail, an hour
    RETRY_S = 60.0
    AHEAD = timedelta(days=95)

    def __init__(self, pool: Any, now: Callable[[], datetime]) -> None:
        self.pool = pool
        self.now = now
        self.due = 0.0
        self.refresh_due = 0.0

    async def maintain_if_due(self) -> None:
        if time.monotonic() >= self.due:
            self.due = await self._postponed(self._maintain, self.EVERY_S)
        if time.monotonic() >= self.refresh_due:
            self.refresh_due = await self._postponed(self._refresh, self.REFRESH_EVERY_S)

    async def _postponed(self, job: Callable[[], Awaitable[None]], every_s: float) -> float:
        """Runs ``job``; when it is next due."""
        try:
            await job()
        except DATABASE_UNAVAILABLE as error:
            # Like a batch, maintenance waits for the database rather than crash the worker.
            log.warning("storage maintenance postponed: database unavailable (%r)", error)
            return time.monotonic() + self.RETRY_S
        return time.monotonic() + every_s

    async def _refresh(self) -> None:
        """The rollups across entities up to the last closed bucket (migration 0017)."""
        async with self.pool.acquire() as connection:
            calls = await refresh_across(connection, self.now())
        log.debug("rollups across entities refreshed in %d calls", calls)

    async def _maintain(self) -> None:
        async with self.pool.acquire() as connection:
            retention_days = int(
                await connection.fetchval(
                    "SELECT value FROM storage_info WHERE key = 'retention_days'"
                )
            )
            summary = await connection.fetchval(
                "SELECT ioc_maintain($1, $2, $3)",
                self.now(),
                timedelta(days=retention_days),
                self.AHEAD,
            )
        log.info("storage maintenance: %s", summary)


def duties_of(mode: StorageMode, pool: Any, now: Callable[[], datetime]) -> StoreDuties:
    if mode == "timescaledb":
        return TimescaleDBDuties()
    return PostgresDuties(pool, now)
