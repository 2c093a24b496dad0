"""Rollups stay exact through corrections; the storage policy keeps partitions ahead and drops
what is past retention. Each storage mode checks its own mechanism."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.api.indicators.definitions import load_indicators
from services.api.indicators.series import parse_interval, series
from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.tables import BUCKET_ORIGIN_SQL
from services.ingest.rollups import ACROSS, WIDTHS, refresh_across
from tests.conftest import SCHEMAS_DIR
from tests.integration.conftest import StackUnderTest
from tests.integration.ingest.test_worker import SALINITY_FIRST
from tests.integration.messages import salinity_reading
from tests.integration.pipeline import (
    TEST_NOW,
    all_committed,
    eventually,
    produce,
    running_worker,
)

pytestmark = pytest.mark.integration


async def _rollup(db: Any, stack: StackUnderTest, table: str, bucket: str) -> tuple[Any, ...]:
    if stack.storage_mode == "timescaledb":
        await db.execute(f"CALL refresh_continuous_aggregate('{table}', NULL, NULL)")
    row = await db.fetchrow(
        f"SELECT n, round(total::numeric, 6) AS total, minimum, maximum FROM {table}"
        " WHERE entity = 'CM-SAL-01' AND metric = 'salinity_ppt' AND bucket = $1",
        datetime.fromisoformat(bucket),
    )
    return (row["n"], float(row["total"]), row["minimum"], row["maximum"])


@pytest.mark.asyncio(loop_scope="session")
async def test_rollups_are_exact_and_follow_a_correction(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    corrected = SALINITY_FIRST.replace(b"06:00", b"06:15").replace(b'"9,2"', b'"12,0"')
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", examples)
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
        # 06:00-06:45 local is the 23:00 UTC hour: 9.2, 9.3, 9.3, 10.0 ‰.
        assert await _rollup(db, stack, "observations_1h", "2026-11-24T23:00:00+00:00") == (
            4,
            37.8,
            9.2,
            10.0,
        )
        await produce(settings, "salinity", [corrected])  # 06:15 was 12.0 ‰, not 9.3
        await eventually(lambda: all_committed(worker, "salinity", len(examples) + 1))

    assert await _rollup(db, stack, "observations_1h", "2026-11-24T23:00:00+00:00") == (
        4,
        40.5,
        9.2,
        12.0,
    )
    assert await _rollup(db, stack, "observations_5m", "2026-11-24T23:15:00+00:00") == (
        1,
        12.0,
        12.0,
        12.0,
    )


# What a rollup across entities holds, computed from the stored rows themselves.
ACROSS_FROM_ROWS = f"""
SELECT feed, metric, date_bin($1::interval, ts, {BUCKET_ORIGIN_SQL}) AS bucket,
       count(*)::integer AS n, round(sum(value)::numeric, 6) AS total,
       min(value) AS minimum, max(value) AS maximum
FROM observations GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
ACROSS_KEPT = """
SELECT feed, metric, bucket, n, round(total::numeric, 6) AS total, minimum, maximum
FROM {table} ORDER BY 1, 2, 3
"""


async def _refresh(db: Any, stack: StackUnderTest, at: datetime = TEST_NOW) -> None:
    """TimescaleDB: every aggregate refreshed in the order of their policies. Plain: the rollups
    across entities refreshed as the worker does, at ``at`` (the per-entity ones are kept)."""
    if stack.storage_mode == "timescaledb":
        for view, _ in (*WIDTHS, *ACROSS):
            await db.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
        return
    await refresh_across(db, at)


async def _assert_across_equal_the_rows(db: Any) -> None:
    for table, seconds in ACROSS:
        kept = await db.fetch(ACROSS_KEPT.format(table=table))
        assert [tuple(r) for r in kept] == [
            tuple(r) for r in await db.fetch(ACROSS_FROM_ROWS, timedelta(seconds=seconds))
        ], table


@pytest.mark.asyncio(loop_scope="session")
async def test_rollups_across_entities_hold_the_rows_through_late_records_and_corrections(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    first = datetime(2026, 11, 24, 23, tzinfo=UTC)  # the examples' first reading, 06:00 local
    later = [
        salinity_reading(first - timedelta(hours=2), "7,7", station="CM-SAL-03"),  # late
        salinity_reading(first, "8,1", station="CM-SAL-09"),  # a new station, a held bucket
        SALINITY_FIRST.replace(b"06:00", b"06:15").replace(b'"9,2"', b'"25,0"'),  # was 9.3
    ]
    # Another batch into the late row's bucket: its sums add to the first's.
    also_late = salinity_reading(first - timedelta(hours=2), "6,4", station="CM-SAL-04")
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", examples)
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
        await _refresh(db, stack)  # what follows lands behind TimescaleDB's watermarks
        await produce(settings, "salinity", later)
        await eventually(lambda: all_committed(worker, "salinity", len(examples) + 3))
        await produce(settings, "salinity", [also_late])
        await eventually(lambda: all_committed(worker, "salinity", len(examples) + 4))
    await _refresh(db, stack)

    await _assert_across_equal_the_rows(db)
    highest = load_indicators(SCHEMAS_DIR, feeds)["salinity.max_ppt"]
    points = await series(
        db, highest, first - timedelta(hours=3), first + timedelta(hours=1), parse_interval("5m")
    )
    assert dict(points)[first - timedelta(hours=2)] == 7.7
    assert dict(points)[first + timedelta(minutes=15)] == 25.0  # the highest now


@pytest.mark.postgres
@pytest.mark.asyncio(loop_scope="session")
async def test_plain_mode_series_show_late_rows_and_corrections_at_commit_and_after_the_refresh(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    first = datetime(2026, 11, 24, 23, tzinfo=UTC)  # the examples' first reading, 06:00 local
    later = [
        salinity_reading(first - timedelta(hours=2), "7,7", station="CM-SAL-03"),  # late
        SALINITY_FIRST.replace(b"06:00", b"06:15").replace(b'"9,2"', b'"25,0"'),  # was 9.3
    ]
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", examples)
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
        await _refresh(db, stack)  # every example materialized: what follows lies below
        assert await db.fetchval("SELECT count(*) FROM rollup_invalidations") == 0
        await produce(settings, "salinity", later)
        await eventually(lambda: all_committed(worker, "salinity", len(examples) + 2))

    highest = load_indicators(SCHEMAS_DIR, feeds)["salinity.max_ppt"]

    async def shown() -> list[dict[datetime, float | None]]:
        return [
            dict(
                await series(
                    db, highest, first - timedelta(hours=3), first + timedelta(hours=1), width
                )
            )
            for width in (parse_interval("5m"), parse_interval("1h"))
        ]

    # Before any refresh: the rows across entities still hold what they held, the series not.
    held = "SELECT maximum FROM observations_5m_all WHERE metric = 'salinity_ppt' AND bucket = $1"
    assert await db.fetchval(held, first + timedelta(minutes=15)) == 18.4  # CM-SAL-07
    stale = "SELECT bucket FROM rollup_invalidations WHERE metric = 'salinity_ppt' ORDER BY 1"
    assert [r["bucket"] for r in await db.fetch(stale)] == [
        first - timedelta(hours=2),
        first + timedelta(minutes=15),
    ]
    at_commit = await shown()
    assert at_commit[0][first - timedelta(hours=2)] == 7.7
    assert at_commit[0][first + timedelta(minutes=15)] == 25.0
    assert at_commit[1][first - timedelta(hours=2)] == 7.7
    assert at_commit[1][first] == 25.0
    # A range that ends inside a closed hour reads that whole hour, the correction in it too.
    to_mid_hour = await series(
        db, highest, first - timedelta(hours=3), first + timedelta(minutes=10), parse_interval("1h")
    )
    assert dict(to_mid_hour)[first] == 25.0

    await _refresh(db, stack)
    assert await db.fetchval("SELECT count(*) FROM rollup_invalidations") == 0
    assert await db.fetchval(held, first + timedelta(minutes=15)) == 25.0
    await _assert_across_equal_the_rows(db)
    assert await shown() == at_commit


@pytest.mark.postgres
@pytest.mark.asyncio(loop_scope="session")
async def test_plain_mode_refresh_adds_what_new_rows_carry_and_recomputes_a_changed_bucket(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    first = datetime(2026, 11, 24, 23, tzinfo=UTC)  # the examples' first reading, 06:00 local
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", examples)
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
    await _refresh(db, stack)
    kept = (
        "SELECT n, total, minimum, maximum FROM {table}"
        " WHERE feed = 'salinity' AND metric = 'salinity_ppt' AND bucket = $1"
    )
    five = await db.fetchrow(kept.format(table="observations_5m_all"), first)
    hour = await db.fetchrow(kept.format(table="observations_1h_all"), first)
    # What the invalidations say, not what the rows hold, shows which way each bucket went: a
    # row of 100.0 at 06:00 that no table holds, and a changed row at 06:15 (no sums).
    await db.execute(
        "INSERT INTO rollup_invalidations (feed, metric, bucket, n, total, minimum, maximum)"
        " VALUES ('salinity', 'salinity_ppt', $1, 1, 100, 100, 100),"
        " ('salinity', 'salinity_ppt', $1 + interval '15 minutes', NULL, NULL, NULL, NULL)",
        first,
    )
    await _refresh(db, stack)

    added = await db.fetchrow(kept.format(table="observations_5m_all"), first)
    assert tuple(added) == pytest.approx((five["n"] + 1, five["total"] + 100, five["minimum"], 100))
    # The hour holding the changed bucket is recomputed from the per-entity rollups: as it was
    # (summed in another order).
    recomputed = await db.fetchrow(kept.format(table="observations_1h_all"), first)
    assert tuple(recomputed) == pytest.approx(tuple(hour))
    assert await db.fetchval("SELECT count(*) FROM rollup_invalidations") == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_a_series_shows_a_row_written_a_moment_ago_before_any_refresh(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    # After every example, and past the watermarks of plain mode's refresh at the worker's clock.
    later = TEST_NOW + timedelta(minutes=3)
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", examples)
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
        await _refresh(db, stack)  # what follows lies past every watermark: the open tail
        await produce(settings, "salinity", [salinity_reading(later, "30,5", "CM-SAL-09")])
        await eventually(lambda: all_committed(worker, "salinity", len(examples) + 1))

    for table, _ in ACROSS:
        assert await db.fetchval(f"SELECT ioc_rollup_watermark('{table}')") <= later
    highest = load_indicators(SCHEMAS_DIR, feeds)["salinity.max_ppt"]
    for interval in ("5m", "1h", "15m"):  # each bucket starts at TEST_NOW
        width = parse_interval(interval)
        points = await series(db, highest, later - timedelta(hours=3), later + width, width)
        assert dict(points)[TEST_NOW] == 30.5, interval


@pytest.mark.postgres
@pytest.mark.asyncio(loop_scope="session")
async def test_plain_mode_refreshes_a_store_from_its_oldest_bucket_a_day_a_call(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", examples)
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
    # As the migration leaves a store that already holds rows: nothing across entities yet.
    await db.execute("UPDATE rollup_watermarks SET watermark = '-infinity'")
    for table, _ in ACROSS:
        await db.execute(f"TRUNCATE {table}")
    oldest = await db.fetchval("SELECT min(bucket) FROM observations_5m")
    assert TEST_NOW - oldest > timedelta(days=1)

    refresh = "SELECT ioc_refresh_rollups_across($1)"
    assert await db.fetchval(refresh, TEST_NOW) is False  # a day, not the whole store
    watermark = "SELECT watermark FROM rollup_watermarks WHERE rollup = 'observations_5m_all'"
    assert await db.fetchval(watermark) == oldest + timedelta(days=1)
    calls = 2  # the first, and the one that says it caught up
    while not await db.fetchval(refresh, TEST_NOW):
        calls += 1
    assert calls == math.ceil((TEST_NOW - oldest) / timedelta(days=1))
    assert await db.fetchval(watermark) == TEST_NOW
    await _assert_across_equal_the_rows(db)


@pytest.mark.timescaledb
@pytest.mark.asyncio(loop_scope="session")
async def test_a_series_reads_the_current_bucket_from_the_rows_though_a_refresh_took_part_of_it(
    feeds: dict[str, FeedDefinition],
    db: Any,
    stack: StackUnderTest,
) -> None:
    bucket = await db.fetchval(f"SELECT date_bin('5 minutes', now(), {BUCKET_ORIGIN_SQL})")
    row = (
        "INSERT INTO observations (feed, entity, metric, ts, value, src_partition, src_offset)"
        " VALUES ('salinity', $1, 'salinity_ppt', $2, $3, 0, 0)"
    )
    newest = (
        "INSERT INTO latest (feed, entity, metric, ts, value) VALUES ('salinity', $1,"
        " 'salinity_ppt', $2, $3) ON CONFLICT (feed, entity, metric) DO UPDATE"
        " SET ts = EXCLUDED.ts, value = EXCLUDED.value"
    )
    entities = ["CM-SAL-OPEN-1", "CM-SAL-OPEN-2"]
    highest = load_indicators(SCHEMAS_DIR, feeds)["salinity.max_ppt"]
    try:
        await db.execute(row, entities[0], bucket, 3.0)
        await db.execute(newest, entities[0], bucket, 3.0)
        await _refresh(db, stack)  # as the policies do: up to the end of the newest row's bucket
        await db.execute(row, entities[1], bucket + timedelta(seconds=1), 4.0)
        await db.execute(newest, entities[1], bucket + timedelta(seconds=1), 4.0)
        for interval in ("5m", "1h"):
            width = parse_interval(interval)
            points = await series(db, highest, bucket - width, bucket + width, width)
            assert points[-1][1] == 4.0, interval
    finally:
        for entity in entities:
            await db.execute("DELETE FROM observations WHERE entity = $1", entity)
            await db.execute("DELETE FROM latest WHERE entity = $1", entity)
        await _refresh(db, stack)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_storage_policy_keeps_partitions_ahead_and_drops_those_past_retention(
    db: Any, stack: StackUnderTest
) -> None:
    retention_days = int(
        await db.fetchval("SELECT value FROM storage_info WHERE key = 'retention_days'")
    )
    assert retention_days > 1100  # longer than any feed's backfill bound
    if stack.storage_mode == "timescaledb":
        jobs = await db.fetch(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
            " WHERE hypertable_name IS NOT NULL ORDER BY 1, 2"
        )
        assert {(j["proc_name"], j["hypertable_name"]) for j in jobs} >= {
            ("policy_retention", "observations"),
            ("policy_retention", "states"),
            ("policy_compression", "observations"),
        }
        return
    later = datetime(2030, 1, 15, tzinfo=UTC)
    summary = await db.fetchval(
        "SELECT ioc_maintain($1, $2, $3)", later, timedelta(days=retention_days), timedelta(days=95)
    )
    # 1,200 days before 2030-01-15 is 2026-10-03: the months the migration made from 2024-01
    # that ended by then go, 33 per table.
    assert summary.endswith(", 66 dropped")
    tables = {
        r["relname"]
        for r in await db.fetch(
            "SELECT relname FROM pg_class WHERE relname LIKE 'observations_20%'"
        )
    }
    assert "observations_2026_09" not in tables
    assert {"observations_2026_10", "observations_2030_04"} <= tables
    again = await db.fetchval(
        "SELECT ioc_maintain($1, $2, $3)", later, timedelta(days=retention_days), timedelta(days=95)
    )
    assert again == "0 partitions created, 0 dropped"
