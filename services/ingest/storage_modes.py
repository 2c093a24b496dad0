"""What each storage mode asks of the worker. TimescaleDB keeps its aggregates and runs its
policies itself; plain PostgreSQL has the worker keep the rollup tables exact in each batch's
transaction and run its storage policy (partitions ahead, past retention dropped)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.common.db import DATABASE_UNAVAILABLE
from services.common.storage_mode import StorageMode

log = logging.getLogger("ioc.ingest")


class StoreDuties(Protocol):
    keeps_rollups: bool  # the batch's transaction updates the rollup tables

    async def maintain_if_due(self) -> None: ...


class TimescaleDBDuties:
    keeps_rollups = False

    async def maintain_if_due(self) -> None:
        return  # TimescaleDB's own jobs: compression, retention, aggregate refresh


class PostgresDuties:
    keeps_rollups = True
    EVERY_S = 3600.0
    RETRY_S = 60.0
    AHEAD = timedelta(days=95)

    def __init__(self, pool: Any, now: Callable[[], datetime]) -> None:
        self.pool = pool
        self.now = now
        self.due = 0.0

    async def maintain_if_due(self) -> None:
        if time.monotonic() < self.due:
            return
        try:
            await self._maintain()
        except DATABASE_UNAVAILABLE as error:
            # Like a batch, maintenance waits for the database rather than crash the worker.
            log.warning("storage maintenance postponed: database unavailable (%r)", error)
            self.due = time.monotonic() + self.RETRY_S
            return
        self.due = time.monotonic() + self.EVERY_S

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
