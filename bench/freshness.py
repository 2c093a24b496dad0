"""`make bench` (freshness): how long from an HTTP push's 202 to the wall's indicator that reads
it, under a sustained push load, with the API and a worker per core on the bench's stack.

A probe pushes one salinity reading four times a second, each a new highest salinity, so the
indicator ``salinity.max_ppt`` changes exactly when the probe's reading is stored and the board
has refreshed; the wall's poll (a reader's key, If-None-Match, every 10 ms) sees it, and a poll
of the store (``latest``, every 10 ms) sees when its row is committed: the worker's share and the
board's. Meanwhile the load pushes batches of 500 readings of other stations at ``--rate``
messages a second, then at half that.

    .venv/bin/python -m bench.freshness [--rate 10000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
import httpx

from bench import cpu, stack
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
PROBE_IN_STORE = """
SELECT value FROM latest WHERE feed = 'salinity' AND entity = 'PROBE' AND metric = 'salinity_ppt'
"""


def probe_value(number: int) -> float:
    """Probe ``number``'s salinity, above every earlier one: 40.01, 40.02, ..."""
    return round(40 + number / 100, 2)


def probe_message(number: int) -> bytes:
    """Probe ``number``'s reading (the feed allows up to 60 ‰)."""
    value = f"{probe_value(number):.2f}".replace(".", ",")
    at = datetime.now(UTC).astimezone(LOCAL).strftime("%d/%m/%Y %H:%M")
    reading = {
        "ma_tram": "PROBE",
        "thoi_gian": at,
        "do_man_phan_nghin": value,
        "muc_nuoc_cm": 120,
        "xa_phuong_ma": "32150",
    }
    return json.dumps([reading]).encode()


@dataclass(frozen=True, slots=True)
class Probe:
    stored_s: float  # from the 202 to the reading committed in the store
    on_wall_s: float  # from the 202 to the wall's first answer that shows it


async def probe(
    url: str, database: str, keys: Keys, numbers: Iterator[int], stop: asyncio.Event
) -> list[Probe]:
    """Each probe's times from its 202: to the store (the worker's share) and to the wall.
    ``numbers``: the probes' numbers, shared by the runs (each probe the highest yet)."""
    pushing = {"Authorization": f"Bearer {keys.agency}", "Content-Type": "application/json"}
    probes: list[Probe] = []
    wall = _Wall(keys.reader)
    store = await asyncpg.connect(database)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while not stop.is_set():
                number = next(numbers)
                if probe_value(number) >= 60:
                    raise RuntimeError("the probes reached the feed's highest salinity")
                response = await http.post(PUSH, content=probe_message(number), headers=pushing)
                if response.status_code != 202:
                    raise RuntimeError(f"probe push: {response.status_code} {response.text[:200]}")
                accepted = time.perf_counter()
                expected = probe_value(number)
                stored, on_wall = await asyncio.gather(
                    _until(partial(_stored, store, expected), accepted, number),
                    _until(partial(wall.shows, http, expected), accepted, number),
                )
                probes.append(Probe(stored, on_wall))
                await asyncio.sleep(max(PROBE_EVERY_S - on_wall, 0))
    finally:
        await store.close()
    return probes


async def _until(shown: Callable[[], Awaitable[bool]], accepted: float, number: int) -> float:
    """Seconds from ``accepted`` until ``shown`` answers true, asked every ``POLL_S``."""
    while not await shown():
        if time.perf_counter() - accepted > 60:
            raise RuntimeError(f"probe {number} not seen after 60 s")
        await asyncio.sleep(POLL_S)
    return time.perf_counter() - accepted


async def _stored(store: Any, expected: float) -> bool:
    value = await store.fetchval(PROBE_IN_STORE)
    return value is not None and value >= expected


class _Wall:
    """The wall's poll of the indicator, remembering its ETag as a display does."""

    def __init__(self, reader: str) -> None:
        self.reader = reader
        self.etag = ""
        self.value = 0.0

    async def shows(self, http: httpx.AsyncClient, expected: float) -> bool:
        headers = {"Authorization": f"Bearer {self.reader}", "If-None-Match": self.etag}
        answer = await http.get(INDICATOR, headers=headers)
        if answer.status_code == 200:
            self.etag = answer.headers["ETag"]
            self.value = answer.json()["value"] or 0.0
        return self.value >= expected


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


@dataclass(frozen=True, slots=True)
class Keys:
    agency: str  # the probe's and the load's pushes
    reader: str  # the wall's polls


async def measure(
    url: str, database: str, keys: Keys, rate: float, seconds: float, numbers: Iterator[int]
) -> dict[str, int | float]:
    """Probes for ``seconds`` under pushes at ``rate``: the figures of one load."""
    stop = asyncio.Event()
    busy = cpu.MachineBusy()
    loading = asyncio.create_task(load(url, keys.agency, rate, stop))
    probing = asyncio.create_task(probe(url, database, keys, numbers, stop))
    await asyncio.sleep(seconds)
    stop.set()
    probes, loaded = await probing, await loading
    on_wall = [p.on_wall_s for p in probes]
    return {
        "load_messages_per_s": round(loaded / seconds),
        "cpu_busy_share": round(busy.share(), 2),
        "probes": len(probes),
        **_quantiles_ms("freshness", on_wall),
        "freshness_max_ms": round(max(on_wall) * 1000),
        **_quantiles_ms("stored", [p.stored_s for p in probes]),
        **_quantiles_ms("store_to_wall", [p.on_wall_s - p.stored_s for p in probes]),
    }


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
    parser.add_argument("--seconds", type=float, default=60, help="a load's")
    args = parser.parse_args()
    numbers = itertools.count(1)
    feeds = load_feeds(REPO_ROOT / "schemas")
    stack.run_stack("up", "postgres", "kafka")
    try:
        env, _ = stack.services_on_their_own(
            "fresh", feeds, **stack.UNLIMITED_PUSHES, IOC_LOG_LEVEL="WARNING"
        )
        port = stack.free_port()
        keys = Keys(
            agency=stack.issue_key(env, "--agency", "snnmt"),
            reader=stack.issue_key(env, "--reader", "wall"),
        )
        url = f"http://127.0.0.1:{port}"
        api = ["-m", "services.cli", "api", "--port", str(port)]
        figures = {}
        with stack.running(api, env, f"{url}/healthz"), workers(env, os.cpu_count() or 1):
            # The bench's load, then half of it: where the tail comes from.
            for name, rate in (("at_load", args.rate), ("at_half_load", args.rate / 2)):
                log(f"freshness: probes every {PROBE_EVERY_S:g} s under {rate:,.0f} messages/s")
                figures[name] = asyncio.run(
                    measure(url, env["IOC_DATABASE_URL"], keys, rate, args.seconds, numbers)
                )
    finally:
        stack.run_stack("down", "kafka", "postgres")
    write_figures("freshness", figures)


def _quantiles_ms(name: str, seconds: list[float]) -> dict[str, int]:
    quantiles = statistics.quantiles(seconds, n=100)
    return {
        f"{name}_p50_ms": round(quantiles[49] * 1000),
        f"{name}_p99_ms": round(quantiles[98] * 1000),
    }


if __name__ == "__main__":
    main()
