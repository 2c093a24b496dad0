"""`make bench` (freshness): how long from an HTTP push's 202 to the wall's indicator that reads
it, under a sustained push load, with the API and a worker per core on the bench's stack.

A probe pushes one salinity reading four times a second, each a new highest salinity, so the
indicator ``salinity.max_ppt`` changes exactly when the probe's reading is stored and the board
has refreshed; the wall's poll (a reader's key, If-None-Match, every 10 ms) sees it. Meanwhile
the load pushes batches of 500 readings of other stations at ``--rate`` messages a second.

    .venv/bin/python -m bench.freshness [--rate 10000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from bench import stack
from bench.http import BATCH, LOCAL, salinity_batches
from bench.ingest import log
from bench.results import write_figures
from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT

PROBE_EVERY_S = 0.25
POLL_S = 0.01
INDICATOR = "/v1/indicators/salinity.max_ppt"
PUSH = "/v1/feeds/salinity/messages"
HIGHEST_LOAD = 39.9  # the load's readings stay below every probe's (bench.http's batches)


def probe_message(number: int) -> bytes:
    """A reading above every earlier one: 40.01, 40.02, ... (the feed allows up to 60 ‰)."""
    value = f"{40 + number / 100:.2f}".replace(".", ",")
    at = datetime.now(UTC).astimezone(LOCAL).strftime("%d/%m/%Y %H:%M")
    reading = {
        "ma_tram": "PROBE",
        "thoi_gian": at,
        "do_man_phan_nghin": value,
        "muc_nuoc_cm": 120,
        "xa_phuong_ma": "32150",
    }
    return json.dumps([reading]).encode()


async def probe(url: str, agency: str, reader: str, stop: asyncio.Event) -> list[float]:
    """Seconds from each probe's 202 to the wall's first answer that shows it."""
    pushing = {"Authorization": f"Bearer {agency}", "Content-Type": "application/json"}
    delays: list[float] = []
    etag = ""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        number = 0
        while not stop.is_set() and 40 + (number + 1) / 100 < 60:
            number += 1
            response = await http.post(PUSH, content=probe_message(number), headers=pushing)
            if response.status_code != 202:
                raise RuntimeError(f"probe push: {response.status_code} {response.text[:200]}")
            accepted = time.perf_counter()
            expected = round(40 + number / 100, 2)
            while True:
                headers = {"Authorization": f"Bearer {reader}", "If-None-Match": etag}
                answer = await http.get(INDICATOR, headers=headers)
                if answer.status_code == 200:
                    etag = answer.headers["ETag"]
                    if (answer.json()["value"] or 0) >= expected:
                        delays.append(time.perf_counter() - accepted)
                        break
                if time.perf_counter() - accepted > 60:
                    raise RuntimeError(f"probe {number} not on the wall after 60 s")
                await asyncio.sleep(POLL_S)
            await asyncio.sleep(max(PROBE_EVERY_S - delays[-1], 0))
    return delays


async def load(url: str, agency: str, rate: float, stop: asyncio.Event) -> int:
    """Pushes batches of 500 readings at ``rate`` messages a second until ``stop``."""
    bodies = [json.dumps(batch).encode() for batch in salinity_batches(200)]
    headers = {"Authorization": f"Bearer {agency}", "Content-Type": "application/json"}
    interval = BATCH / rate
    sent = 0
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        began = time.perf_counter()
        while not stop.is_set():
            response = await http.post(PUSH, content=bodies[sent % len(bodies)], headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"load push: {response.status_code} {response.text[:200]}")
            sent += 1
            await asyncio.sleep(max(began + sent * interval - time.perf_counter(), 0))
    return sent * BATCH


async def measure(url: str, agency: str, reader: str, rate: float, seconds: float) -> Any:
    stop = asyncio.Event()
    loading = asyncio.create_task(load(url, agency, rate, stop))
    probing = asyncio.create_task(probe(url, agency, reader, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await probing, await loading


@contextlib.contextmanager
def workers(env: dict[str, str], count: int) -> Iterator[None]:
    """``count`` worker processes in one group, each ready once its metrics answer."""
    with contextlib.ExitStack() as running:
        for _ in range(count):
            port = stack.free_port()
            running.enter_context(
                stack.running(
                    ["-m", "services.cli", "worker"],
                    {**env, "IOC_WORKER_METRICS_PORT": str(port)},
                    f"http://127.0.0.1:{port}/metrics",
                )
            )
        yield


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.freshness")
    parser.add_argument("--rate", type=float, default=10_000, help="load, messages a second")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    feeds = load_feeds(REPO_ROOT / "schemas")
    stack.run_stack("up", "postgres", "kafka")
    try:
        env, _ = stack.services_on_their_own(
            "fresh", feeds, **stack.UNLIMITED_PUSHES, IOC_LOG_LEVEL="WARNING"
        )
        port = stack.free_port()
        agency = stack.issue_key(env, "--agency", "snnmt")
        reader = stack.issue_key(env, "--reader", "wall")
        url = f"http://127.0.0.1:{port}"
        api = ["-m", "services.cli", "api", "--port", str(port)]
        with stack.running(api, env, f"{url}/healthz"), workers(env, os.cpu_count() or 1):
            log(f"freshness: probes every {PROBE_EVERY_S:g} s under {args.rate:,.0f} messages/s")
            delays, loaded = asyncio.run(measure(url, agency, reader, args.rate, args.seconds))
    finally:
        stack.run_stack("down", "kafka", "postgres")

    quantiles = statistics.quantiles(delays, n=100)
    figures = {
        "load_messages_per_s": round(loaded / args.seconds),
        "probes": len(delays),
        "freshness_p50_ms": round(quantiles[49] * 1000),
        "freshness_p99_ms": round(quantiles[98] * 1000),
        "freshness_max_ms": round(max(delays) * 1000),
    }
    write_figures("freshness", figures)


if __name__ == "__main__":
    main()
