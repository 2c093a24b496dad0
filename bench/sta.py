"""`make bench` (SensorThings), in each storage mode: one datastream's month of observations paged
through ``/sta/v1.0/Datastreams(id)/Observations`` on a store of 20M rows, page by page as a
client follows ``@iot.nextLink``; each page's latency against the wall's budget (p99 < 25 ms)
and against the same page read straight from the store in the same run (the ceiling).

    .venv/bin/python -m bench.sta [--cameras 1160] [--days 30] [--top 1000] [--repeats 5]

The store holds traffic cameras every 5 minutes (vehicles and speed), generated inside
PostgreSQL (a Python generator would take a quarter of an hour for 20M rows).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

from bench import stack
from bench.ingest import ensure_partitions, log
from bench.results import write_figures
from services.api.sta.entities import catalogue
from services.api.sta.repository import fetch_page
from services.api.sta.request import options, resource_path
from services.common.db import create_pool
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT

PORT = 8093
# A camera's readings every 5 minutes over the days before now: vehicles with a daily cycle,
# and speeds.
FILL = """
INSERT INTO observations (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT 'traffic', format('CAM-%s', lpad(camera::text, 4, '0')), metric, ts,
       CASE metric
           WHEN 'vehicles' THEN round(120 + 90 * sin(2 * pi() * extract(epoch FROM ts) / 86400)
               + random() * 20)
           ELSE round((38 + 10 * random())::numeric, 1)::float8
       END,
       0, 0
FROM generate_series($1::int, $2::int) AS camera,
     generate_series(now() - make_interval(days => $3), now(), interval '5 minutes') AS ts,
     unnest(ARRAY['vehicles', 'avg_speed_kmh']) AS metric
"""
# What the worker's upsert of ``latest`` does for each new series: numbering it (migration 0007).
NUMBER_SERIES = """
INSERT INTO latest (feed, entity, metric, ts, value)
SELECT DISTINCT ON (feed, entity, metric) feed, entity, metric, ts, value
FROM observations ORDER BY feed, entity, metric, ts DESC
"""


def _quantiles(took: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(took), 2),
        "p99_ms": round(statistics.quantiles(took, n=100, method="inclusive")[98], 2),
    }


async def _datastream(database: str) -> tuple[int, str]:
    connection = await asyncpg.connect(database)
    try:
        row = await connection.fetchrow(
            "SELECT d.id, min(o.ts) AS since FROM sta_datastreams d "
            "JOIN observations o USING (feed, entity, metric) "
            "WHERE d.feed = 'traffic' AND d.metric = 'vehicles' GROUP BY d.id ORDER BY d.id LIMIT 1"
        )
    finally:
        await connection.close()
    return int(row["id"]), row["since"].isoformat().replace("+00:00", "Z")


def _page_through(url: str, repeats: int) -> tuple[list[float], int]:
    """Follows @iot.nextLink from ``url`` to the end, ``repeats`` times: each page's ms."""
    took: list[float] = []
    rows = 0
    with httpx.Client(timeout=30) as client:
        for _ in range(repeats):
            rows, next_url = 0, url
            while next_url:
                began = time.perf_counter()
                response = client.get(next_url)
                took.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
                body = response.json()
                rows += len(body["value"])
                next_url = body.get("@iot.nextLink")
    return took, rows


async def _ceiling(
    database: str, resource: str, query: dict[str, str], top: int, repeats: int
) -> list[float]:
    """The same pages read by the repository on one connection, without HTTP: the store's part."""
    feeds = load_feeds(REPO_ROOT / "schemas")
    types = catalogue(feeds)
    path = resource_path(resource, types)
    pool = await create_pool(database, min_size=1, max_size=1)
    took: list[float] = []
    try:
        async with pool.acquire() as connection:
            for _ in range(repeats):
                following: dict[str, str] = {}
                while True:
                    asked = options({**query, **following}, path.entity, max_top=top)
                    began = time.perf_counter()
                    page = await fetch_page(connection, path, asked, types, None)
                    took.append((time.perf_counter() - began) * 1000)
                    if page.skiptoken is None:
                        break
                    following = {"$skiptoken": page.skiptoken}
    finally:
        await pool.close()
    return took


def measure(database: str, env: dict[str, str], top: int, repeats: int) -> dict[str, Any]:
    datastream, since = asyncio.run(_datastream(database))
    resource = f"Datastreams({datastream})/Observations"
    query = {
        "$filter": f"phenomenonTime ge {since}",
        "$orderby": "phenomenonTime",
        "$top": str(top),
    }
    encoded = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    url = f"http://127.0.0.1:{PORT}/sta/v1.0/{resource}?{encoded}"
    with stack.running(
        ["-m", "services.cli", "api", "--port", str(PORT)], env, f"http://127.0.0.1:{PORT}/healthz"
    ):
        _page_through(url, 1)  # warm
        took, rows = _page_through(url, repeats)
    pages = len(took) // repeats
    ceiling = asyncio.run(_ceiling(database, resource, query, top, repeats))
    http, store = _quantiles(took), _quantiles(ceiling)
    return {
        "observations": rows,
        "pages": pages,
        "page_p50_ms": http["p50_ms"],
        "page_p99_ms": http["p99_ms"],
        "month_ms": round(sum(took) / repeats, 1),
        "store_page_p50_ms": store["p50_ms"],
        "store_page_p99_ms": store["p99_ms"],
        "store_ratio_p50": round(store["p50_ms"] / http["p50_ms"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.sta")
    parser.add_argument("--cameras", type=int, default=1160)  # 2 metrics, 30 days: 20M rows
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--top", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    results: dict[str, Any] = {"top": args.top, "repeats": args.repeats, "modes": {}}
    stack.run_stack("up", "postgres", "kafka")
    try:
        for mode in stack.storage_modes():
            log(f"SensorThings, {mode}: filling {args.days} days of {args.cameras} cameras")
            database = stack.fresh_database("sta", mode)
            rows = asyncio.run(_fill(database, args.cameras, args.days))
            env = stack.service_env(database, "sta.", IOC_LOG_LEVEL="WARNING")
            log(f"SensorThings, {mode}: paging one datastream's month ({rows:,} rows stored)")
            results["modes"][mode] = {
                "rows": rows,
                **measure(database, env, args.top, args.repeats),
            }
            stack.drop_database(database)
    finally:
        stack.run_stack("down", "kafka", "postgres")
    write_figures("sta", results)


async def _fill(database: str, cameras: int, days: int) -> int:
    connection = await asyncpg.connect(database)
    try:
        # TimescaleDB's jobs paused: after a bulk load of 20M rows their first refresh runs for
        # many minutes, a one-off that is not the store's steady state (where a refresh covers
        # the buckets of the last minute); the measurement is of the read path alone.
        if await connection.fetchval("SELECT to_regproc('alter_job') IS NOT NULL"):
            await connection.execute(
                "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                "WHERE job_id >= 1000"
            )
        await ensure_partitions(connection, datetime.now(UTC) - timedelta(days=days + 1))
        for first in range(1, cameras + 1, 100):  # a hundred cameras a statement: progress shown
            last = min(first + 99, cameras)
            await connection.execute(FILL, first, last, days)
            log(f"  {last} of {cameras} cameras")
        await connection.execute(NUMBER_SERIES)
        await connection.execute("VACUUM ANALYZE")
        rows: int = await connection.fetchval("SELECT count(*) FROM observations")
        return rows
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
