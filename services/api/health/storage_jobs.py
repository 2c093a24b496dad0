"""TimescaleDB's background jobs as Prometheus gauges, refreshed in the background (never per
scrape), so the alert IocStorageJobFailing sees a compression, retention or refresh job that
fails. A plain store has none to publish."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from services.api.metrics import STORAGE_JOB_FAILING, STORAGE_JOB_LAST_SUCCESS
from services.common.db import DATABASE_ERRORS
from services.common.storage_jobs import StorageJob, storage_jobs

log = logging.getLogger("ioc.api")


def publish_storage_jobs(jobs: list[StorageJob]) -> None:
    for job in jobs:
        STORAGE_JOB_FAILING.labels(storage_job=job.name).set(1 if job.failing else 0)
        if job.last_success is not None:
            STORAGE_JOB_LAST_SUCCESS.labels(storage_job=job.name).set(job.last_success.timestamp())


async def keep_storage_jobs_published(pool: Any, interval_s: float) -> None:
    while True:
        try:
            async with pool.acquire(timeout=interval_s) as connection:
                publish_storage_jobs(await storage_jobs(connection))
        except DATABASE_ERRORS as error:
            log.warning("storage jobs not read: database unavailable (%r)", error)
        await asyncio.sleep(interval_s)
