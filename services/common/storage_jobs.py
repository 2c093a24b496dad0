"""TimescaleDB's background jobs (compression, retention, aggregate refresh) and how they last
ran: `ioc info` lists them, the API publishes them as metrics for the alert on a failing job.
A plain store has none: its jobs, ``ioc_maintain`` and ``ioc_refresh_rollups_across``, run in
the worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A time TimescaleDB has not reached yet (a job never succeeded) is -infinity: none here.
# Ids under 1000 are TimescaleDB's own jobs (telemetry, which the cluster turns off, and the
# pruning of its job history): not the store's policies.
JOBS = """
SELECT j.job_id, j.proc_name, j.hypertable_name, s.last_run_status,
       nullif(s.last_run_started_at, '-infinity') AS last_run_started_at,
       nullif(s.last_successful_finish, '-infinity') AS last_successful_finish,
       nullif(s.next_start, '-infinity') AS next_start,
       coalesce(s.total_failures, 0) AS total_failures, e.err_message AS last_error
FROM timescaledb_information.jobs j
LEFT JOIN timescaledb_information.job_stats s USING (job_id)
LEFT JOIN LATERAL (
    SELECT err_message FROM timescaledb_information.job_errors
    WHERE job_id = j.job_id ORDER BY finish_time DESC LIMIT 1
) e ON s.last_run_status = 'Failed'
WHERE j.job_id >= 1000
ORDER BY j.job_id
"""


@dataclass(frozen=True, slots=True)
class StorageJob:
    id: int
    name: str  # "policy_compression on observations"; a job of one's own: its procedure
    last_status: str | None  # "Success", "Failed", or None before its first run
    last_started: datetime | None
    last_success: datetime | None
    next_start: datetime | None
    failures: int
    last_error: str | None  # why its last run failed, where it failed

    @property
    def failing(self) -> bool:
        return self.last_status == "Failed"


async def timescaledb_version(connection: Any) -> str | None:
    """The installed extension's version in this database, or None (plain mode)."""
    version: str | None = await connection.fetchval(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    )
    return version


async def storage_jobs(connection: Any) -> list[StorageJob]:
    if await timescaledb_version(connection) is None:
        return []
    return [
        StorageJob(
            id=row["job_id"],
            name=_name(row["proc_name"], row["hypertable_name"]),
            last_status=row["last_run_status"],
            last_started=row["last_run_started_at"],
            last_success=row["last_successful_finish"],
            next_start=row["next_start"],
            failures=row["total_failures"],
            last_error=row["last_error"],
        )
        for row in await connection.fetch(JOBS)
    ]


def _name(procedure: str, table: str | None) -> str:
    return procedure if table is None else f"{procedure} on {table}"
