"""Hostile input from callers without a key, against a real API process on a store of many
observations: a 600 KB ``$filter``, a dozen concurrent ``$top=10000&$expand=Observations``
reads, a 20,000-name ``$select``. Meanwhile ``/readyz`` and a keyed ``GET /v1/feeds`` are
probed: they always answer 200, the hostile requests are refused or answered (a 503 with
Retry-After where the keyless share of the pool is busy), never a 500, and the API's memory is
sampled. `make test` runs it on a small store; `make test-faults` (``IOC_FAULTS=full``) on a
million observations, where the probes' p99 must stay under 1 s and the API's RSS within 150 MB
of its start; the figures go to ``artifacts/hostile-run.json`` for RELIABILITY.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.keys import issue_key
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration

FULL = os.environ.get("IOC_FAULTS") == "full"
CAMERAS, POINTS = (100, 5_000) if FULL else (10, 500)  # x2 metrics: 1,000,000 or 10,000 rows
EXPANDERS = 12
ROUNDS = 4 if FULL else 1  # each expander's requests, one after the other
START = datetime(2026, 10, 1, tzinfo=UTC)
ARTIFACTS = REPO_ROOT / "artifacts"
P99_CEILING_S = 1.0
RSS_GROWTH_CEILING_MB = 150

# A traffic camera's readings every 5 minutes from START: ``POINTS`` of each metric.
FILL = """
INSERT INTO observations (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT 'traffic', format('HOSTILE-%s', lpad(camera::text, 4, '0')), metric,
       $3::timestamptz + n * interval '5 minutes', (camera + n) % 300, 0, 0
FROM generate_series(1, $1::int) AS camera, generate_series(0, $2::int - 1) AS n,
     unnest(ARRAY['vehicles', 'avg_speed_kmh']) AS metric
"""
# What the worker's upsert of ``latest`` does for each new series: numbering it (migration 0007).
NUMBER_SERIES = """
INSERT INTO latest (feed, entity, metric, ts, value)
SELECT DISTINCT ON (feed, entity, metric) feed, entity, metric, ts, value
FROM observations ORDER BY feed, entity, metric, ts DESC
"""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@dataclass
class Probe:
    took_s: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def p99_s(self) -> float:
        return statistics.quantiles(self.took_s, n=100, method="inclusive")[98]


async def _probe(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], probe: Probe, stop: Any
) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        response = await client.get(url, headers=headers)
        probe.took_s.append(time.perf_counter() - began)
        probe.statuses.append(response.status_code)
        await asyncio.sleep(0.1)


async def _hostile(client: httpx.AsyncClient, url: str) -> str:
    """The status a hostile request got, or the kind of error its connection met."""
    try:
        response = await client.get(url)
    except httpx.TransportError as error:
        return type(error).__name__
    if response.status_code == 503:
        assert "Retry-After" in response.headers
    return str(response.status_code)


async def _raw(port: int, target: str) -> str:
    """A GET whose request line is longer than an HTTP client library sends (httpx refuses a
    URL over 64 KB): the status line the API answers, or how the connection ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        with contextlib.suppress(ConnectionError):  # refused before it was all sent
            await writer.drain()
        status = await reader.readline()
        await reader.read()  # the rest, until the API closes
    except ConnectionError as error:
        return type(error).__name__
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = status.split()
    return parts[1].decode() if len(parts) >= 2 else "closed without an answer"


@pytest.mark.asyncio(loop_scope="session")
async def test_keyless_hostile_reads_neither_stall_keyed_callers_nor_grow_the_api(
    settings: CommonSettings, db: Any
) -> None:
    if await db.fetchval("SELECT to_regproc('ioc_ensure_partitions') IS NOT NULL"):
        last = START + timedelta(minutes=5 * POINTS)
        await db.execute("SELECT ioc_ensure_partitions($1, $2)", START.date(), last.date())
    await db.execute(FILL, CAMERAS, POINTS, START)
    await db.execute(NUMBER_SERIES)
    stored = await db.fetchval("SELECT count(*) FROM observations")
    assert stored == CAMERAS * POINTS * 2
    _, key = await issue_key(db, "reader", "wall")
    keyed = {"Authorization": f"Bearer {key}"}

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(settings)
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        process = await asyncio.to_thread(
            stack.enter_context,
            running_service(
                ["api", "--port", str(port)], env, f"{url}/healthz", ARTIFACTS / "hostile-api.log"
            ),
        )
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            for _ in range(3):  # warmed: the figures start from a process that has served
                assert (await client.get("/readyz")).status_code == 200
                assert (await client.get("/v1/feeds", headers=keyed)).status_code == 200
                assert (await client.get("/sta/v1.0/Datastreams?$top=2")).status_code == 200
            rss_start = _rss_mb(process.pid)
            rss_peak = rss_start
            stop = asyncio.Event()
            ready, feeds = Probe(), Probe()
            probes = [
                asyncio.create_task(_probe(client, "/readyz", {}, ready, stop)),
                asyncio.create_task(_probe(client, "/v1/feeds", keyed, feeds, stop)),
            ]

            long_filter = "/sta/v1.0/Things?$filter=" + " or ".join(
                ["name eq 'x'"] * (600_000 // len(" or name eq 'x'"))
            )
            assert len(long_filter) > 600_000
            wide_select = "/sta/v1.0/Things?$select=" + ",".join(f"n{i}" for i in range(20_000))
            expand = "/sta/v1.0/Datastreams?$top=10000&$expand=Observations"

            async def rounds(target: str) -> list[str]:
                return [await _hostile(client, target) for _ in range(ROUNDS)]

            async def raw_rounds(target: str) -> list[str]:
                return [await _raw(port, target) for _ in range(ROUNDS)]

            hostile = asyncio.gather(
                *(rounds(expand) for _ in range(EXPANDERS)),
                raw_rounds(long_filter),
                raw_rounds(wide_select),
            )
            while not hostile.done():
                rss_peak = max(rss_peak, _rss_mb(process.pid))
                await asyncio.sleep(0.2)
            answers = await hostile
            stop.set()
            await asyncio.gather(*probes)
            rss_end = _rss_mb(process.pid)

    expanded = [status for statuses in answers[:EXPANDERS] for status in statuses]
    filtered, selected = answers[EXPANDERS], answers[EXPANDERS + 1]
    figures = {
        "observations": stored,
        "expand_answers": {s: expanded.count(s) for s in sorted(set(expanded))},
        "long_filter_answers": sorted(set(filtered)),
        "wide_select_answers": sorted(set(selected)),
        "readyz": {"requests": len(ready.took_s), "p99_ms": round(ready.p99_s() * 1000, 1)},
        "feeds_keyed": {"requests": len(feeds.took_s), "p99_ms": round(feeds.p99_s() * 1000, 1)},
        "rss_mb": {
            "start": round(rss_start, 1),
            "peak": round(rss_peak, 1),
            "end": round(rss_end, 1),
        },
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "hostile-run.json").write_text(json.dumps(figures, indent=2))

    assert set(ready.statuses) == {200}, figures
    assert set(feeds.statuses) == {200}, figures
    assert set(expanded) <= {"200", "503"}, figures
    assert "200" in expanded, figures  # the share serves some; it is not closed to everyone
    assert all(s.startswith("4") for s in selected), figures
    # The 600 KB request line is refused by the HTTP server itself ("Invalid HTTP request
    # received.", a 400), which closes the connection while the client is still sending: the
    # client may see the reset instead of the 400.
    assert all(s.startswith("4") or s == "ConnectionResetError" for s in filtered), figures
    if FULL:  # the issue's ceilings, at its scale
        assert ready.p99_s() < P99_CEILING_S, figures
        assert feeds.p99_s() < P99_CEILING_S, figures
        assert rss_peak - rss_start < RSS_GROWTH_CEILING_MB, figures
