"""What TimescaleDB mode promises, each on real hypertables: compressed chunks take late,
corrected and replayed records as uncompressed ones do; retention drops only what is past it;
the aggregates answer in real time; chunk intervals as chosen; failing jobs are seen.
(Plain mode's own mechanisms: test_storage_policies.py.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.api.health.storage_jobs import publish_storage_jobs
from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.storage_jobs import storage_jobs
from tests.integration.conftest import db_connection
from tests.integration.messages import salinity_reading
from tests.integration.pipeline import all_committed, eventually, produce, running_worker

pytestmark = [pytest.mark.integration, pytest.mark.timescaledb]

FIRST_HOUR = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 06:00 local: the examples' first hour
SERIES = "entity = 'CM-SAL-01' AND metric = 'salinity_ppt'"


async def _ingest(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    records: list[bytes],
    already: int = 0,
) -> None:
    await produce(settings, "salinity", records)
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", already + len(records)))


async def _series(db: Any) -> dict[str, float]:
    rows = await db.fetch(f"SELECT ts, value FROM observations WHERE {SERIES} ORDER BY ts")
    return {row["ts"].isoformat(): row["value"] for row in rows}


async def _hour(db: Any, bucket: datetime) -> tuple[Any, ...]:
    row = await db.fetchrow(
        "SELECT n, round(total::numeric, 6) AS total, minimum, maximum FROM observations_1h"
        f" WHERE {SERIES} AND bucket = $1",
        bucket,
    )
    return (row["n"], float(row["total"]), row["minimum"], row["maximum"])


@pytest.mark.asyncio(loop_scope="session")
async def test_compressed_chunks_take_late_corrected_and_replayed_records_like_any_other(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    await _ingest(settings, feeds, examples)
    compressed = await db.fetchval(
        "SELECT count(compress_chunk(c)) FROM show_chunks('observations') c"
    )
    assert compressed >= 1
    before = await _series(db)
    latest_before = await db.fetchrow(f"SELECT ts, value FROM latest WHERE {SERIES}")

    late = salinity_reading(FIRST_HOUR - timedelta(minutes=15), "8,8")  # before every other
    correction = salinity_reading(FIRST_HOUR + timedelta(minutes=15), "12,0")  # was 9.3
    # In log order: the replay (changes nothing), then the late record, then the correction.
    await _ingest(settings, feeds, [*examples, late, correction], already=len(examples))

    assert await db.fetchval(
        "SELECT bool_and(is_compressed) FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'observations'"
    ), "the chunks stay compressed: the records went through the compressed path"
    assert await _series(db) == {
        **before,
        (FIRST_HOUR - timedelta(minutes=15)).isoformat(): 8.8,  # the late one, once
        (FIRST_HOUR + timedelta(minutes=15)).isoformat(): 12.0,  # corrected; the replay no more
    }
    assert await db.fetchval("SELECT count(*) FROM observations") == 2 * len(examples) + 2
    latest = await db.fetchrow(f"SELECT ts, value FROM latest WHERE {SERIES}")
    assert dict(latest) == dict(latest_before)  # the late record is older than the newest
    await db.execute("CALL refresh_continuous_aggregate('observations_1h', NULL, NULL)")
    assert await _hour(db, FIRST_HOUR) == (4, 40.5, 9.2, 12.0)
    assert await _hour(db, FIRST_HOUR - timedelta(hours=1)) == (1, 8.8, 8.8, 8.8)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_retention_job_drops_chunks_past_retention_and_nothing_newer(
    db: Any,
) -> None:
    days = int(await db.fetchval("SELECT value FROM storage_info WHERE key = 'retention_days'"))
    now = datetime.now(UTC)
    ages = {"past": days + 60, "edge": days - 8, "recent": 1}  # a chunk spans 7 days at most
    for age in ages.values():
        await db.execute(
            "INSERT INTO observations (feed, entity, metric, ts, value, src_partition, src_offset)"
            " VALUES ('salinity', 'CM-SAL-01', 'salinity_ppt', $1, 1.0, 0, 0)",
            now - timedelta(days=age),
        )
    job = await db.fetchval(
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_retention' AND hypertable_name = 'observations'"
    )
    await db.execute(f"CALL run_job({job})")

    kept = await db.fetch("SELECT ts FROM observations ORDER BY ts")
    assert [row["ts"] for row in kept] == [
        now - timedelta(days=ages["edge"]),
        now - timedelta(days=ages["recent"]),
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_the_aggregates_include_what_was_written_a_moment_ago(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    await _ingest(settings, feeds, examples)
    for view in ("observations_5m", "observations_1h"):
        await db.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")

    later = FIRST_HOUR + timedelta(hours=3)  # after everything materialized
    await _ingest(settings, feeds, [salinity_reading(later, "15,5")], already=len(examples))

    assert await _hour(db, later) == (1, 15.5, 15.5, 15.5)
    five = await db.fetchval(
        f"SELECT maximum FROM observations_5m WHERE {SERIES} AND bucket = $1", later
    )
    assert five == 15.5


@pytest.mark.asyncio(loop_scope="session")
async def test_chunk_intervals_are_those_chosen_for_the_feeds(db: Any) -> None:
    intervals = await db.fetch(
        "SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions"
        " WHERE hypertable_name IN ('observations', 'states') ORDER BY 1"
    )
    assert [(row["hypertable_name"], row["time_interval"]) for row in intervals] == [
        ("observations", timedelta(days=7)),
        ("states", timedelta(days=30)),
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_fresh_store_inherits_no_job_history(db: Any) -> None:
    async with db_connection(db) as connection:
        jobs = await storage_jobs(connection)
    assert jobs
    assert [(j.name, j.failures, j.last_error) for j in jobs if j.failures] == []


@pytest.mark.real_clock  # under libfaketime, TimescaleDB's scheduler never runs the new job
@pytest.mark.asyncio(loop_scope="session")
async def test_a_failing_job_is_listed_by_ioc_info_and_published_as_a_metric(
    database_url: str, db: Any
) -> None:
    await db.execute("""
        CREATE PROCEDURE ioc_test_failing(job_id integer, config jsonb) LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the disk is full (a test)'; END $$
    """)
    job = await db.fetchval(
        "SELECT add_job('ioc_test_failing', INTERVAL '1 hour', initial_start => now())"
    )
    # A database cloned from the template has no scheduler until TimescaleDB's launcher next
    # looks for databases (every 60 s): asked now, it starts this one's at once.
    await db.execute("SELECT _timescaledb_functions.start_background_workers()")

    async def failed() -> bool:
        async with db_connection(db) as connection:
            jobs = {job.id: job for job in await storage_jobs(connection)}
        return jobs[job].failing

    await eventually(failed, within_s=60)  # run by TimescaleDB's own scheduler
    async with db_connection(db) as connection:
        jobs = await storage_jobs(connection)
    publish_storage_jobs(jobs)
    assert (
        REGISTRY.get_sample_value("ioc_storage_job_failing", {"storage_job": "ioc_test_failing"})
        == 1
    )
    [ours] = [j for j in jobs if j.name == "ioc_test_failing"]
    assert ours.failing
    assert ours.last_error == "the disk is full (a test)"
    # The policies themselves do not fail as 2.28.3 without its vendored patch did, every one
    # of them. (A policy may fail once for a passing reason, a lock held by a concurrent
    # refresh say, and run again: its error is named so such a run says which.)
    portal = [
        (j.name, j.last_error) for j in jobs if j.failing and "portal" in (j.last_error or "")
    ]
    assert not portal

    info = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "info"],
        env={**os.environ, "IOC_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "storage mode: timescaledb" in info.stdout
    assert "timescaledb:  2." in info.stdout
    [line] = [line for line in info.stdout.splitlines() if "ioc_test_failing" in line]
    assert f" {job} " in line
    assert " Failed " in line
    assert "failed: the disk is full (a test)" in info.stdout
    assert "policy_compression on observations" in info.stdout
