"""`make bench` (API part): 500 simulated wall displays polling /v1/indicators every 2 s with
ETags (each starting with a cold full fetch), requests/s and p99; then the most 304s/s one API
process gives, against a trivial FastAPI endpoint measured in the same run as the ceiling.

    .venv/bin/python -m bench.api [--displays 500] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp
import httpx

from bench import stack
from bench.ingest import log
from bench.results import write_figures
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT
from services.common.topics import Topics

POLL_S = 2.0
CLOSED_LOOP_CLIENTS = 16


async def displays(url: str, key: str, count: int, seconds: float, path: str) -> dict[str, Any]:
    """``count`` displays, each a cold fetch then a conditional poll of ``path`` every POLL_S."""
    cold: list[float] = []
    warm: list[float] = []
    statuses: dict[int, int] = {}
    # aiohttp, not httpx: a lighter client, so the client's own pauses weigh less in the tail.
    connector = aiohttp.TCPConnector(limit=count)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:
        end = time.perf_counter() + seconds

        async def display(index: int) -> None:
            await asyncio.sleep(POLL_S * index / count)  # displays switched on over one period
            etag = None
            while time.perf_counter() < end:
                started = time.perf_counter()
                conditional: dict[str, str] = {"If-None-Match": etag} if etag else {}
                async with http.get(path, headers=conditional) as response:
                    await response.read()
                (warm if etag else cold).append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                etag = response.headers.get("ETag", etag)
                await asyncio.sleep(max(0.0, POLL_S - (time.perf_counter() - started)))

        started = time.perf_counter()
        await asyncio.gather(*(display(i) for i in range(count)))
        elapsed = time.perf_counter() - started
    everything = cold + warm
    return {
        "requests": len(everything),
        "requests_per_s": round(len(everything) / elapsed, 1),
        "p99_ms": round(statistics.quantiles(everything, n=100)[98] * 1000, 1),
        "p50_ms": round(statistics.median(everything) * 1000, 1),
        "cold_p99_ms": round(statistics.quantiles(cold, n=100)[98] * 1000, 1),
        "statuses": statuses,
    }


async def closed_loop(url: str, path: str, headers: dict[str, str], seconds: float) -> float:
    """Requests/s with CLOSED_LOOP_CLIENTS clients asking back to back."""
    done = 0
    connector = aiohttp.TCPConnector(limit=CLOSED_LOOP_CLIENTS)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        end = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < end:
                async with http.get(path, headers=headers) as response:
                    await response.read()
                if response.status not in (200, 304):
                    raise RuntimeError(f"{path}: {response.status}")
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLOSED_LOOP_CLIENTS)))
        return done / (time.perf_counter() - started)


def _seed(env: dict[str, str], url: str, key: str, topics: Topics) -> None:
    """Every department's examples through a real worker, so the indicators have values."""
    feeds = load_feeds(REPO_ROOT / "schemas")
    lines = []
    for feed in feeds.values():
        lines += [
            (topics.raw(feed.feed), line) for line in feed.examples_path.read_bytes().splitlines()
        ]

    async def produce() -> None:
        from services.common.kafka import producing

        async with producing(stack.KAFKA) as producer:
            for topic, line in lines:
                await producer.send(topic, line)
            await producer.flush()

    asyncio.run(produce())
    worker_env = {**env, "IOC_WORKER_METRICS_PORT": "0"}
    with stack.running(["-m", "services.cli", "worker"], worker_env, f"{url}/healthz"):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            listing = httpx.get(f"{url}/v1/feeds", headers={"Authorization": f"Bearer {key}"})
            if all(feed["last_event"] for feed in listing.json()["feeds"]):
                return
            time.sleep(1)
    raise RuntimeError("the worker did not ingest every feed's examples within 2 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.api")
    parser.add_argument("--displays", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    feeds = load_feeds(REPO_ROOT / "schemas")
    stack.run_stack("up", "postgres", "kafka")
    try:
        env, topics = stack.services_on_their_own("api", feeds, IOC_LOG_LEVEL="WARNING")
        key = stack.issue_key(env, "--reader", "bench")
        api_url, trivial_url = "http://127.0.0.1:8091", "http://127.0.0.1:8092"
        api = ["-m", "services.cli", "api", "--port", "8091"]
        trivial = [
            "-m",
            "uvicorn",
            "bench.trivial_app:app",
            "--port",
            "8092",
            "--log-level",
            "warning",
        ]
        with stack.running(api, env, f"{api_url}/healthz"):
            log("API: seeding every feed's examples through a worker")
            _seed(env, api_url, key, topics)
            log(f"API: {args.displays} displays polling every {POLL_S:g} s for {args.seconds:g} s")
            load = asyncio.run(
                displays(api_url, key, args.displays, args.seconds, "/v1/indicators")
            )
            etag = httpx.get(
                f"{api_url}/v1/indicators", headers={"Authorization": f"Bearer {key}"}
            ).headers["ETag"]
            log("API: 304s back to back")
            conditional = {"Authorization": f"Bearer {key}", "If-None-Match": etag}
            not_modified = asyncio.run(closed_loop(api_url, "/v1/indicators", conditional, 10))
        with stack.running(trivial, env, f"{trivial_url}/ping"):
            log("API ceiling: a trivial FastAPI endpoint back to back, then at the displays' load")
            ceiling = asyncio.run(closed_loop(trivial_url, "/ping", {}, 10))
            trivial_load = asyncio.run(
                displays(trivial_url, key, args.displays, args.seconds, "/ping")
            )
    finally:
        stack.run_stack("down", "kafka", "postgres")

    figures = {
        "displays": args.displays,
        "poll_s": POLL_S,
        **{f"load_{name}": value for name, value in load.items()},
        "not_modified_per_s": round(not_modified),
        "trivial_per_s": round(ceiling),
        "trivial_load_p99_ms": trivial_load["p99_ms"],
        "not_modified_ratio_to_trivial": round(not_modified / ceiling, 3),
    }
    write_figures("api", figures)


if __name__ == "__main__":
    main()
