"""`make bench` (HTTP push): messages/s accepted by POST /v1/feeds/{feed}/messages in batches of
500 from 32 concurrent clients, p50/p99 latency, against the ceiling of a bare aiokafka producer
sending the same messages (acks=all, idempotent) in the same run.

    .venv/bin/python -m bench.http [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench import stack
from bench.ingest import log
from bench.results import write_figures
from services.common.feeds import load_feeds
from services.common.kafka import producing
from services.common.settings import REPO_ROOT

BATCH = 500
PATH = "/v1/feeds/salinity/messages"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
CLIENTS = 32


def salinity_batches(requests: int) -> list[list[dict[str, Any]]]:
    """Valid salinity readings, distinct series, recent enough for every bound."""
    start = datetime.now(UTC) - timedelta(days=2)
    batches = []
    for r in range(requests):
        local_time = (start + timedelta(minutes=r)).astimezone(LOCAL).strftime("%d/%m/%Y %H:%M")
        batch = []
        for n in range(BATCH):
            batch.append(
                {
                    "ma_tram": f"B-{n:04d}",
                    "thoi_gian": local_time,
                    "do_man_phan_nghin": f"{n % 40},{r % 10}",
                    "muc_nuoc_cm": 100 + n % 50,
                    "xa_phuong_ma": "32150",
                }
            )
        batches.append(batch)
    return batches


async def load(url: str, key: str, bodies: list[bytes]) -> tuple[float, list[float], int]:
    """Posts every body from CLIENTS concurrent clients; returns seconds, latencies, accepted."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    accepted = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post(
                    "/v1/feeds/salinity/messages", content=body, headers=headers
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
                accepted += response.json()["accepted"]

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - started, latencies, accepted


async def ceiling(topic: str, batches: list[list[dict[str, Any]]]) -> float:
    """Seconds for a bare producer to have the broker acknowledge the same messages."""
    async with producing(stack.KAFKA, linger_ms=5) as producer:
        started = time.perf_counter()
        deliveries = []
        for batch in batches:
            for message in batch:
                value = json.dumps(message, ensure_ascii=False).encode()
                deliveries.append(
                    await producer.send(topic, value, key=message["ma_tram"].encode())
                )
        await asyncio.gather(*deliveries)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.http")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    feeds = load_feeds(REPO_ROOT / "schemas")
    stack.run_stack("up", "postgres", "kafka")
    try:
        env, topics = stack.services_on_their_own("http", feeds, **stack.UNLIMITED_PUSHES)
        port = stack.free_port()
        key = stack.issue_key(env, "--agency", "snnmt")
        url = f"http://127.0.0.1:{port}"
        api = ["-m", "services.cli", "api", "--port", str(port)]
        with stack.running(api, env, f"{url}/healthz"):
            batches = salinity_batches(args.requests)
            bodies = [json.dumps(batch, ensure_ascii=False).encode() for batch in batches]
            log(f"HTTP: warming up, then {len(bodies)} pushes of {BATCH} from {CLIENTS} clients")
            asyncio.run(load(url, key, bodies[:CLIENTS]))
            seconds, latencies, accepted = asyncio.run(load(url, key, bodies))
            log("HTTP ceiling: a bare producer sending the same messages")
            ceiling_seconds = asyncio.run(ceiling(topics.raw("salinity"), batches))
    finally:
        stack.run_stack("down", "kafka", "postgres")

    quantiles = statistics.quantiles(latencies, n=100)
    rate, ceiling_rate = accepted / seconds, accepted / ceiling_seconds
    figures = {
        "messages": accepted,
        "http_messages_per_s": round(rate),
        "producer_ceiling_messages_per_s": round(ceiling_rate),
        "http_ratio_to_producer": round(rate / ceiling_rate, 3),
        "latency_p50_ms": round(quantiles[49] * 1000, 1),
        "latency_p99_ms": round(quantiles[98] * 1000, 1),
    }
    write_figures("http", figures)


if __name__ == "__main__":
    main()
