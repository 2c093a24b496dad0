"""`make bench` (storage), in each storage mode: one busy feed's 30-day series at 5-minute and
1-hour intervals, read and rendered as the API answers them (less HTTP), on a store of those
30 days and again once it holds a year (the same sensors' earlier months added); and
TimescaleDB's compression of the sensor feeds.

    .venv/bin/python -m bench.storage [--days 30] [--year-days 365] [--cameras 200] [--repeats 100]

A province's sensors for ``--days`` (traffic cameras every 5 minutes, salinity stations every
15 minutes, air stations hourly), with values that move as readings do (a daily cycle and
noise, at the precision the departments send), go into the store by COPY; the rollups are
brought up to date as the worker (plain) or the refresh policy (TimescaleDB) would.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench import stack
from bench.ingest import bring_rollups_up_to_date, ensure_partitions, log
from bench.results import write_figures
from services.api.indicators.definitions import load_indicators
from services.api.indicators.series import parse_interval, render, series
from services.common.db import create_pool
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT
from services.common.storage_mode import StorageMode
from services.ingest.rollups import ACROSS, WIDTHS

INDICATOR = "traffic.vehicles_15m"  # the busiest feed's series
SERIES_TARGET_MS = 25.0  # p99 of a 30-day series at 5 minutes and at 1 hour (issue 29)
COLUMNS = ["feed", "entity", "metric", "ts", "value", "src_partition", "src_offset"]
# (feed, entities, cadence in seconds, {metric: (base, daily swing, noise, decimals)})
SENSORS: list[tuple[str, int, int, dict[str, tuple[float, float, float, int]]]] = [
    ("salinity", 50, 900, {"salinity_ppt": (8, 4, 0.3, 1), "water_level_m": (1.1, 0.5, 0.03, 2)}),
    (
        "air-quality",
        20,
        3600,
        {
            "pm25": (25, 10, 3, 1),
            "pm10": (40, 15, 4, 1),
            "no2": (30, 8, 3, 1),
            "aqi": (60, 20, 5, 0),
        },
    ),
]


def readings(days: int, cameras: int, end: datetime) -> Iterator[tuple[Any, ...]]:
    """Canonical sensor rows over ``days`` before ``end``: traffic, then salinity and air."""
    noise = random.Random(7)
    sensors = [
        (
            "traffic",
            cameras,
            300,
            {"vehicles": (120.0, 90.0, 15.0, 0), "avg_speed_kmh": (38.0, 10.0, 3.0, 1)},
        ),
        *SENSORS,
    ]
    offset = 0
    for feed, entities, cadence, metrics in sensors:
        steps = days * 86400 // cadence
        for entity in range(entities):
            for step in range(steps):
                ts = end - timedelta(seconds=cadence * (steps - step))
                phase = math.sin(2 * math.pi * (ts.hour * 60 + ts.minute) / 1440)
                for metric, (base, swing, spread, decimals) in metrics.items():
                    value = max(base + swing * phase + noise.gauss(0, spread), 0.0)
                    offset += 1
                    yield (
                        feed,
                        f"{feed}-{entity:03d}",
                        metric,
                        ts,
                        round(value, decimals),
                        0,
                        offset,
                    )


# The newest rows past the rollups' refresh, as in a live store (whose refresh runs every
# minute; TimescaleDB's policies are paused here, so every read meets this tail).
LIVE_TAIL = timedelta(minutes=10)
# Each series' newest row, as the worker keeps it (the series finds the tail's series there).
NEWEST = """
INSERT INTO latest (feed, entity, metric, ts, value)
SELECT DISTINCT ON (feed, entity, metric) feed, entity, metric, ts, value FROM observations
ORDER BY feed, entity, metric, ts DESC
ON CONFLICT (feed, entity, metric) DO NOTHING
"""


async def bring_rollups_up_to(connection: Any, mode: StorageMode, end: datetime) -> None:
    if mode == "postgres":
        await bring_rollups_up_to_date(connection, mode, before=end, refreshed_at=end - LIVE_TAIL)
        return
    await connection.execute(
        "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_refresh_continuous_aggregate'"
    )
    until = (end - LIVE_TAIL).isoformat()
    for view, _ in (*WIDTHS, *ACROSS):  # in order: those across entities read those per entity
        await connection.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, '{until}')")


async def fill(database_url: str, mode: StorageMode, days: int, cameras: int, end: datetime) -> int:
    """Stores ``days`` of sensors before ``end`` (an hour's start) and brings the rollups up to
    date; a store already holding what follows ``end`` is grown backwards."""
    connection = await asyncpg.connect(database_url)
    try:
        await ensure_partitions(connection, end - timedelta(days=days + 1))
        rows, chunk = 0, []
        for row in readings(days, cameras, end):
            chunk.append(row)
            if len(chunk) == 200_000:
                await connection.copy_records_to_table(
                    "observations", records=chunk, columns=COLUMNS
                )
                rows += len(chunk)
                chunk = []
                if rows % 2_000_000 == 0:
                    log(f"  {rows:,} rows")
        await connection.copy_records_to_table("observations", records=chunk, columns=COLUMNS)
        rows += len(chunk)
        log(f"  {rows:,} rows stored; bringing the rollups up to date")
        if not await connection.fetchval("SELECT count(*) FROM latest"):
            await connection.execute(NEWEST)
        await bring_rollups_up_to(connection, mode, end)
        # At rest, as autovacuum keeps a live store (PostgreSQL vacuums insert-only tables
        # too): not left for autovacuum to start on 3.8M fresh rows beside the reads.
        await connection.execute("VACUUM ANALYZE")
        return rows
    finally:
        await connection.close()


async def series_latency(
    database_url: str, days: int, repeats: int, end: datetime, prefix: str = "series"
) -> dict[str, float]:
    feeds = load_feeds(REPO_ROOT / "schemas")
    definition = load_indicators(REPO_ROOT / "schemas", feeds)[INDICATOR]
    pool = await create_pool(database_url, min_size=1, max_size=1)
    gc.collect()
    gc.freeze()  # as the API does once started (services/api/app.py)
    figures: dict[str, float] = {}
    try:
        async with pool.acquire() as connection:
            start = end - timedelta(days=days)
            for interval in ("5m", "1h"):
                width = parse_interval(interval)
                await series(connection, definition, start, end, width)  # warm
                took = []
                for _ in range(repeats):
                    began = time.perf_counter()
                    points = await series(connection, definition, start, end, width)
                    render(definition, width, points)  # the answer's body, as the API sends it
                    took.append((time.perf_counter() - began) * 1000)
                assert points, f"{INDICATOR}'s {interval} series is empty"
                figures[f"{prefix}_{interval}_p50_ms"] = round(statistics.median(took), 1)
                figures[f"{prefix}_{interval}_p99_ms"] = round(
                    statistics.quantiles(took, n=100, method="inclusive")[98], 1
                )
                figures[f"{prefix}_{interval}_points"] = len(points)
    finally:
        await pool.close()
    return figures


async def compression(database_url: str, rows: int) -> dict[str, float]:
    """Every chunk compressed (segment by series, order by time): bytes a row before, after."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('observations') c"
        )
        stats = await connection.fetchrow(
            "SELECT sum(before_compression_total_bytes) AS before, "
            "sum(after_compression_total_bytes) AS after "
            "FROM hypertable_compression_stats('observations')"
        )
    finally:
        await connection.close()
    before, after = int(stats["before"]), int(stats["after"])  # sums of bigints: numeric
    return {
        "bytes_per_row_before": round(before / rows, 1),
        "bytes_per_row_after": round(after / rows, 1),
        "compression_ratio": round(before / after, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.storage")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--year-days", type=int, default=365, help="0: no grown store")
    parser.add_argument("--cameras", type=int, default=200)
    # A p99 of 20 reads is their slowest; of 100, a percentile.
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()

    results: dict[str, Any] = {"repeats": args.repeats, "modes": {}, "target_ms": SERIES_TARGET_MS}
    results["description"] = (
        f"{args.days} days of a province's sensors ({args.cameras} traffic cameras every 5 "
        "minutes, 50 salinity stations every 15 minutes, 20 air stations hourly); the series is "
        f"`{INDICATOR}` (every camera's vehicles summed per bucket)."
    )
    # The series' end: now, with the stored rows ending at the hour before it.
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    databases: dict[StorageMode, str] = {}
    stack.run_stack("up", "postgres", "kafka")
    try:
        # Every mode's month first, then every mode's year: the figures are written after each.
        for mode in stack.storage_modes():
            log(f"storage mode {mode}: {args.days} days of sensors")
            databases[mode] = database = stack.fresh_database("storage", mode)
            rows = asyncio.run(fill(database, mode, args.days, args.cameras, end))
            measured = asyncio.run(series_latency(database, args.days, args.repeats, now))
            if mode == "timescaledb":
                measured |= asyncio.run(compression(database, rows))
            results["modes"][mode] = {"rows": rows, **measured}
            write_figures("storage", results)
        if args.year_days > args.days:
            results["description"] += (
                f" Then each store grows to {args.year_days} days of the same sensors and the "
                f"last {args.days} days' series are read again."
            )
            start = end - timedelta(days=args.days)
            for mode, database in databases.items():
                log(f"storage mode {mode}: growing the store to {args.year_days} days")
                earlier = args.year_days - args.days
                grown = asyncio.run(fill(database, mode, earlier, args.cameras, start))
                measured = asyncio.run(
                    series_latency(database, args.days, args.repeats, now, prefix="year_series")
                )
                results["modes"][mode] |= {
                    "year_rows": results["modes"][mode]["rows"] + grown,
                    **measured,
                }
                write_figures("storage", results)
    finally:
        for database in databases.values():
            stack.drop_database(database)
        stack.run_stack("down", "kafka", "postgres")


if __name__ == "__main__":
    main()
