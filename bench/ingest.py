"""`make bench` (ingest), in each storage mode: sustained ingest rate from a pre-filled raw
topic to committed rows, against the ceiling of a binary COPY of the same canonical rows into
the same table and against the peer a user would otherwise run (``bench/peer.py``: Kafka
Connect with the Debezium JDBC sink, fed the same canonical rows), measured in the same run;
the worker's memory; and the rate again once the table holds 20M rows.

    .venv/bin/python -m bench.ingest [--records 1000000] [--growth-rows 20000000] [--workers 2]

The workers are processes in one consumer group, one a core by default (the scale-out the
worker is built for); a run with one worker is measured beside them for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from bench import cpu, peer, stack
from bench.records import Generated, mixed_records
from bench.results import write_figures
from services.common.canonical import Normalised
from services.common.feeds import FeedDefinition, load_feeds
from services.common.intake.decode import decode
from services.common.intake.normalise import Normaliser
from services.common.kafka import admin_client, producing
from services.common.settings import REPO_ROOT
from services.common.storage_mode import StorageMode
from services.common.tables import BUCKET_ORIGIN_SQL
from services.common.topics import Topics, ensure_topics
from services.ingest.batch import assemble
from services.ingest.rollups import ACROSS, WIDTHS, refresh_across
from services.ingest.worker import feed_intakes
from services.ingest.writer import STAGED, prepare_connection, prepared, stage, write_batch

WORKER_BATCH = 5000  # records: the worker's default IOC_BATCH_MAX_RECORDS
FILLER = "fill-"  # the growth run's filler series: their entities' prefix


@dataclass
class IngestRun:
    records: int
    rows: int
    seconds: float
    rss_peak_mb: float
    rss_steady_mb: float
    cpu_seconds: dict[str, float]  # by whom: workers, postgres, kafka

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def produce_all(topics: Topics, records: list[Generated]) -> None:
    async with producing(stack.KAFKA, linger_ms=20, max_batch_size=256 * 1024) as producer:
        for index, record in enumerate(records, 1):
            await producer.send(topics.raw(record.feed), record.value, key=record.key)
            if index % 200_000 == 0:
                log(f"  produced {index:,} / {len(records):,}")
        await producer.flush()


def canonical_rows(
    feeds: dict[str, FeedDefinition], records: list[Generated]
) -> list[tuple[Any, ...]]:
    """The rows the worker will write, for the COPY ceiling and to check the count."""
    normalisers = {name: Normaliser(feed) for name, feed in feeds.items()}
    rows: list[tuple[Any, ...]] = []
    for record in records:
        outcome = normalisers[record.feed](decode(record.value))
        assert isinstance(outcome, Normalised), outcome
        for o in outcome.observations:
            rows.append((o.feed, o.entity, o.metric, o.ts, o.value, o.text))
    return rows


async def committed(group: str, topics: list[str]) -> int:
    admin = admin_client(stack.KAFKA)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError as error:
        if error.retriable:  # the coordinator may still be loading: nothing committed yet
            return 0
        raise
    finally:
        await admin.close()
    return sum(m.offset for tp, m in offsets.items() if tp.topic in topics and m.offset > 0)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_snapshot(pids: list[int]) -> dict[str, float]:
    return {
        "workers": sum(cpu.process_seconds(pid) for pid in pids),
        "postgres": cpu.postgres_seconds(),
        "kafka": cpu.kafka_seconds(),
    }


def run_workers(
    database_url: str, topics: Topics, feeds: list[str], records: int, workers: int
) -> tuple[float, list[float], dict[str, float]]:
    """Starts ``workers`` worker processes in one group, waits until they committed
    ``records``; returns seconds, samples of the largest worker's RSS and the CPU seconds each
    side used meanwhile."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        "IOC_DATABASE_URL": database_url,
        "IOC_KAFKA_BOOTSTRAP": stack.BOOTSTRAP,
        "IOC_TOPIC_NAMESPACE": topics.namespace,
        "IOC_WORKER_GROUP": group,
        "IOC_WORKER_METRICS_PORT": "0",
    }
    logs = REPO_ROOT / "bench" / "results"
    logs.mkdir(exist_ok=True)
    processes = []
    for number in range(workers):
        with open(logs / f"worker-{number}.log", "wb") as output:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.cli", "worker"],
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=output,
                )
            )
    raw_topics = [topics.raw(feed) for feed in feeds]
    samples: list[float] = []
    started = None
    try:
        while True:
            for number, process in enumerate(processes):
                if process.poll() is not None:
                    raise RuntimeError(f"worker exited: see bench/results/worker-{number}.log")
            done = asyncio.run(committed(group, raw_topics))
            pids = [process.pid for process in processes]
            if done and started is None:
                started = time.perf_counter()  # from the first commit: start-up is not ingest
                first, cpu_at_first = done, cpu_snapshot(pids)
            if started is not None:
                samples.append(max(rss_mb(pid) for pid in pids))
                if done >= records:
                    elapsed = time.perf_counter() - started
                    log(f"  committed {done:,} records in {elapsed:.1f}s")
                    used = {k: v - cpu_at_first[k] for k, v in cpu_snapshot(pids).items()}
                    scale = records / (records - first)
                    return (
                        elapsed * scale,
                        samples,
                        {k: v * scale for k, v in used.items()},
                    )
            time.sleep(0.25)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


async def copy_ceiling(database_url: str, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Seconds for a binary COPY of the canonical rows into the same tables, and PostgreSQL's
    CPU seconds for it."""
    numeric = [
        (f, e, m, ts, v, 0, i) for i, (f, e, m, ts, v, t) in enumerate(rows) if v is not None
    ]
    text = [(f, e, m, ts, t, 0, i) for i, (f, e, m, ts, v, t) in enumerate(rows) if v is None]
    columns = ["feed", "entity", "metric", "ts", "value", "src_partition", "src_offset"]
    connection = await asyncpg.connect(database_url)
    try:
        await ensure_partitions(connection, min(row[3] for row in rows))
        started, postgres_before = time.perf_counter(), cpu.postgres_seconds()
        for chunk in range(0, len(numeric), 50_000):
            await connection.copy_records_to_table(
                "observations", records=numeric[chunk : chunk + 50_000], columns=columns
            )
        for chunk in range(0, len(text), 50_000):
            await connection.copy_records_to_table(
                "states", records=text[chunk : chunk + 50_000], columns=columns
            )
        return time.perf_counter() - started, cpu.postgres_seconds() - postgres_before
    finally:
        await connection.close()


async def ensure_partitions(connection: Any, oldest: datetime) -> None:
    """Plain mode's monthly partitions back to ``oldest`` (the worker makes them as it starts);
    a hypertable makes its chunks itself."""
    if await connection.fetchval("SELECT to_regproc('ioc_ensure_partitions') IS NOT NULL"):
        await connection.execute("SELECT ioc_ensure_partitions($1, now()::date)", oldest.date())


# Plain mode's rollups of rows written around the worker (a bulk load): what its batches would
# have added. The entities' LIKE pattern picks the loaded rows, and so does a bound in time:
# rows before it (an hour's start), a load older than what the rollups already hold.
PLAIN_ROLLUPS = (
    f"""
INSERT INTO observations_5m (feed, entity, metric, bucket, n, total, minimum, maximum)
SELECT feed, entity, metric, date_bin('5 minutes', ts, {BUCKET_ORIGIN_SQL}),
       count(*), sum(value), min(value), max(value)
FROM observations WHERE entity LIKE $1 AND ts < $2 GROUP BY 1, 2, 3, 4
""",
    f"""
INSERT INTO observations_1h (feed, entity, metric, bucket, n, total, minimum, maximum)
SELECT feed, entity, metric, date_bin('1 hour', bucket, {BUCKET_ORIGIN_SQL}),
       sum(n), sum(total), min(minimum), max(maximum)
FROM observations_5m WHERE entity LIKE $1 AND bucket < $2 GROUP BY 1, 2, 3, 4
""",
    *(
        f"""
INSERT INTO {across} AS r (feed, metric, bucket, n, total, minimum, maximum)
SELECT feed, metric, bucket, sum(n), sum(total), min(minimum), max(maximum)
FROM {per_entity} WHERE entity LIKE $1 AND bucket < $2 GROUP BY 1, 2, 3
ON CONFLICT (feed, metric, bucket) DO UPDATE
SET n = r.n + EXCLUDED.n, total = r.total + EXCLUDED.total,
    minimum = least(r.minimum, EXCLUDED.minimum), maximum = greatest(r.maximum, EXCLUDED.maximum)
"""
        for (per_entity, _), (across, _) in zip(WIDTHS, ACROSS, strict=True)
    ),
)
UNBOUNDED = datetime.max.replace(tzinfo=UTC)


async def bring_rollups_up_to_date(
    connection: Any,
    mode: StorageMode,
    entities_like: str = "%",
    before: datetime = UNBOUNDED,
    refreshed_at: datetime | None = None,
) -> None:
    """After a bulk load, the rollups as the store keeps them: the loaded rows added to plain
    mode's tables and its refresh run, TimescaleDB's aggregates refreshed. Without it, the
    next scheduled refresh materializes the whole load while the next measurement runs (for
    20M rows, minutes of both cores), which is not the store's steady state (a refresh a
    minute, of that minute's rows)."""
    if mode == "postgres":
        for statement in PLAIN_ROLLUPS:
            await connection.execute(statement, entities_like, before)
        # The load lies below the watermarks, or the refresh computes it (the first one), as
        # the worker's refresh would at ``refreshed_at`` (now, unless a bench wants a tail).
        at = refreshed_at or datetime.now(UTC)
        await refresh_across(connection, at)
        return
    for view, _ in (*WIDTHS, *ACROSS):  # in order: those across entities read those per entity
        while True:
            try:
                await connection.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
                break
            except asyncpg.LockNotAvailableError:  # the policy's own run: ours goes after it
                await asyncio.sleep(1)


@dataclass(slots=True)
class Polled:
    """A record as the worker polls it, for writing batches without Kafka."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


# Without Kafka, on the same tables: an idempotent insert of the event rows (the least any
# exactly-once write does) and the worker's whole write.
IDEMPOTENT_INSERT = """
INSERT INTO {table} (feed, entity, metric, ts, value, src_partition, src_offset)
SELECT feed, entity, metric, ts, value, src_partition, src_offset FROM {staged}
ON CONFLICT (feed, entity, metric, ts) DO NOTHING
"""


async def writes_alone(
    database_url: str,
    feeds: dict[str, FeedDefinition],
    records: list[Generated],
    *,
    whole: bool,
    mode: StorageMode,
) -> float:
    """Seconds the store takes for the records' rows, in the worker's batches, on one connection,
    without Kafka and with the batches assembled beforehand (outside the clock). ``whole``: the
    worker's whole write (event rows, rollups, latest values, entities, counts); otherwise the
    event rows' idempotent insert only."""
    topics = Topics(namespace="")
    intakes = feed_intakes(feeds.values(), topics)
    connection = await asyncpg.connect(database_url)
    try:
        await prepare_connection(connection)
        oldest = datetime.now(UTC) - timedelta(days=max(f.backfill_days for f in feeds.values()))
        await ensure_partitions(connection, oldest)
        seconds = 0.0
        for start in range(0, len(records), WORKER_BATCH):
            polled = [
                Polled(topics.raw(r.feed), 0, start + n, r.value)
                for n, r in enumerate(records[start : start + WORKER_BATCH])
            ]
            batch = assemble(
                polled, intakes, now=lambda: datetime.now(UTC), future_bound=timedelta(minutes=5)
            )
            began = time.perf_counter()
            if whole:
                now = datetime.now(UTC)
                await write_batch(connection, batch, rollups=mode == "postgres", received_at=now)
            else:
                write = prepared(batch)
                async with connection.transaction():
                    await stage(connection, write.numbers, write.states)
                    for table, staged in STAGED.items():
                        await connection.execute(
                            IDEMPOTENT_INSERT.format(table=table, staged=staged)
                        )
            seconds += time.perf_counter() - began
        return seconds
    finally:
        await connection.close()


async def fill(database_url: str, mode: StorageMode, rows: int) -> None:
    """Grows ``observations`` to ``rows`` rows of filler series, by COPY, with progress, and
    leaves the store (rollups, vacuum) as one that had received them over time would be."""
    connection = await asyncpg.connect(database_url)
    try:
        have = await connection.fetchval("SELECT count(*) FROM observations")
        base = datetime.now(UTC) - timedelta(days=300)
        step = 1_000_000
        for start in range(have, rows, step):
            count = min(step, rows - start)
            batch = [
                (
                    "salinity",
                    f"{FILLER}{n // 5000}",
                    "salinity_ppt",
                    base + timedelta(minutes=n % 5000 * 60),
                    float(n % 600) / 10,
                    0,
                    n,
                )
                for n in range(start, start + count)
            ]
            await connection.copy_records_to_table(
                "observations",
                records=batch,
                columns=["feed", "entity", "metric", "ts", "value", "src_partition", "src_offset"],
            )
            log(f"  filled {start + count:,} / {rows:,} rows")
        log("  bringing the rollups up to date")
        await bring_rollups_up_to_date(connection, mode, entities_like=f"{FILLER}%")
        # What autovacuum would have done a little at a time; else it scans the whole load
        # (in plain mode, 20M rows and the rollups' 40M) while the next run is measured.
        log("  vacuuming the loaded tables")
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


def ingest(
    feeds: dict[str, FeedDefinition], database_url: str, total: int, run: int, workers: int
) -> tuple[IngestRun, list[tuple[Any, ...]]]:
    topics = Topics(namespace=f"bench{uuid.uuid4().hex[:6]}.")
    asyncio.run(ensure_topics(stack.KAFKA, topics.partitions(feeds)))
    log(f"generating {total:,} mixed department records (run {run})")
    records = list(mixed_records(feeds, total, run=run, end=datetime.now(UTC) - timedelta(hours=1)))
    rows = canonical_rows(feeds, records)
    log(f"producing them to {topics.namespace}ioc.raw.* ({len(rows):,} canonical rows)")
    asyncio.run(produce_all(topics, records))
    log(f"ingesting with {workers} worker process{'es' if workers > 1 else ''}")
    seconds, samples, cpu_seconds = run_workers(database_url, topics, list(feeds), total, workers)
    steady = samples[len(samples) // 5 :] or samples
    return (
        IngestRun(total, len(rows), seconds, max(samples), statistics.median(steady), cpu_seconds),
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.ingest")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--growth-rows", type=int, default=20_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    feeds = load_feeds(REPO_ROOT / "schemas")
    stack.run_stack("up", "postgres", "kafka")
    try:
        for mode in stack.storage_modes():
            log(f"storage mode {mode}")
            report(mode, measure(feeds, mode, args.records, args.growth_rows, args.workers))
    finally:
        stack.run_stack("down", "kafka", "postgres")


def measure(
    feeds: dict[str, FeedDefinition], mode: StorageMode, total: int, growth_rows: int, workers: int
) -> dict[str, Any]:
    """Every ingest figure of one storage mode, each database made in that mode."""
    database = stack.fresh_database("bench", mode)
    first, rows = ingest(feeds, database, total, 1, workers)
    stored = asyncio.run(_count(database))
    assert stored == first.rows, f"stored {stored:,} rows, expected {first.rows:,}"

    peer_db = stack.fresh_database("peer", mode)
    peer_seconds, peer_cpu = peer.measure(peer_db, mode, rows, len(feeds))
    stack.drop_database(peer_db)
    peer_rate = len(rows) / peer_seconds
    log(f"  the peer: {peer_rate:,.0f} rows/s; the pipeline: {first.rows_per_s:,.0f}")

    single = None
    if workers > 1:
        reference_db = stack.fresh_database("single", mode)
        single, _ = ingest(feeds, reference_db, total, 1, 1)
        stack.drop_database(reference_db)

    ceiling_db = stack.fresh_database("ceiling", mode)
    log("ceiling: binary COPY of the same canonical rows into the same tables")
    copy_seconds, copy_postgres_cpu = asyncio.run(copy_ceiling(ceiling_db, rows))
    stack.drop_database(ceiling_db)
    copy_rate = len(rows) / copy_seconds
    alone = {}
    end = datetime.now(UTC) - timedelta(hours=1)
    records = list(mixed_records(feeds, total, run=1, end=end))
    for whole in (False, True):
        alone_db = stack.fresh_database("alone", mode)
        what = "the worker's whole write" if whole else "an idempotent insert of the rows"
        log(f"without Kafka, on one connection: {what}")
        seconds = asyncio.run(writes_alone(alone_db, feeds, records, whole=whole, mode=mode))
        alone["whole_write" if whole else "idempotent_insert"] = len(rows) / seconds
        stack.drop_database(alone_db)

    grown = None
    if growth_rows:
        log(f"growing the table to {growth_rows:,} rows")
        asyncio.run(fill(database, mode, growth_rows))
        grown, _ = ingest(feeds, database, total, 2, workers)
    stack.drop_database(database)

    copy_cpu_us = copy_postgres_cpu / len(rows) * 1e6
    figures = figures_of(first, copy_rate, copy_cpu_us, grown, growth_rows, workers, single, alone)
    return {
        **figures,
        "peer_rows_per_s": round(peer_rate),
        "ratio_to_peer": round(first.rows_per_s / peer_rate, 2),
        "peer_cpu_us_per_row": {k: round(v / len(rows) * 1e6, 1) for k, v in peer_cpu.items()},
    }


async def _count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        count: int = await connection.fetchval(
            "SELECT (SELECT count(*) FROM observations) + (SELECT count(*) FROM states)"
        )
        return count
    finally:
        await connection.close()


def figures_of(
    first: IngestRun,
    copy_rate: float,
    copy_cpu_us: float,
    grown: IngestRun | None,
    growth_rows: int,
    workers: int,
    single: IngestRun | None,
    alone: dict[str, float],
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "workers": workers,
        "records": first.records,
        "rows": first.rows,
        "ingest_rows_per_s": round(first.rows_per_s),
        "copy_ceiling_rows_per_s": round(copy_rate),
        "ratio_to_copy": round(first.rows_per_s / copy_rate, 3),
        "worker_rss_peak_mb": round(first.rss_peak_mb),
        "worker_rss_steady_mb": round(first.rss_steady_mb),
        # CPU microseconds a row, by whom: where the ingest's time goes, against the ceiling's.
        "cpu_us_per_row": {k: round(v / first.rows * 1e6, 1) for k, v in first.cpu_seconds.items()},
        "copy_cpu_us_per_row_postgres": round(copy_cpu_us, 1),
    }
    if single is not None:
        figures["one_worker_rows_per_s"] = round(single.rows_per_s)
        figures["one_worker_ratio_to_copy"] = round(single.rows_per_s / copy_rate, 3)
    for what, rate in alone.items():
        figures[f"{what}_alone_rows_per_s"] = round(rate)
        figures[f"{what}_alone_ratio_to_copy"] = round(rate / copy_rate, 3)
        figures[f"ratio_to_{what}_alone"] = round(first.rows_per_s / rate, 3)
    if grown is not None:
        figures["table_rows_before_second_run"] = growth_rows
        figures["ingest_rows_per_s_at_growth"] = round(grown.rows_per_s)
        figures["growth_ratio"] = round(grown.rows_per_s / first.rows_per_s, 3)
    return figures


def report(mode: StorageMode, figures: dict[str, Any]) -> None:
    write_figures(f"ingest-{mode}", {"storage_mode": mode, **figures})


if __name__ == "__main__":
    main()
