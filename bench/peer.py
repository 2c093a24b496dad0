"""The peer a user would otherwise run, measured beside the pipeline in `make bench`: Kafka
Connect (standalone) with the Debezium JDBC sink, upserting the same canonical rows, sent to it
as JSON with schemas (already normalised: the peer does none of the pipeline's checking), into
an equivalent table on the same cluster (a hypertable in TimescaleDB mode, monthly partitions in
plain mode, as the pipeline's), 2 tasks, batches of 3,000, with its PostgreSQL ``unnest``
insert. Its rate is its rows over the time from its first row written to its last, read from
the rows' own write times.

Connect's classpath and the connector's plugin archive are resolved by Maven (``bench/peer/``)
into ``.stack-bench/peer/`` once, and read from there after.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench import cpu, stack
from services.common.kafka import producing
from services.common.settings import REPO_ROOT
from services.common.storage_mode import StorageMode
from services.common.topics import RAW_PARTITIONS, ensure_topics

PEER = REPO_ROOT / "bench" / "peer"
CACHE = REPO_ROOT / ".stack-bench" / "peer"
CONNECTOR = "io.debezium:debezium-connector-jdbc:3.6.0.Final:tar.gz:plugin"
TASKS = 2
BATCH = 3000
TABLE = "peer_rows"
KEY = ("feed", "entity", "metric", "ts")

CREATE_TABLE = f"""
CREATE TABLE {TABLE} (
    feed text NOT NULL, entity text NOT NULL, metric text NOT NULL, ts timestamptz NOT NULL,
    value double precision, text text,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (feed, entity, metric, ts)
){{partitioning}}"""
# Partitioned as the pipeline's observations are in each mode: 7-day chunks (migration 0005),
# or monthly range partitions (migration 0001).
HYPERTABLE = f"SELECT create_hypertable('{TABLE}', 'ts', chunk_time_interval => INTERVAL '7 days')"
MONTH = f"""
CREATE TABLE {TABLE}_{{name}} PARTITION OF {TABLE}
FOR VALUES FROM ('{{start}}-01 00:00+00') TO ('{{end}}-01 00:00+00')"""

SCHEMA = {
    "type": "struct",
    "name": "ioc.canonical_row",
    "optional": False,
    "fields": [
        {"field": "feed", "type": "string", "optional": False},
        {"field": "entity", "type": "string", "optional": False},
        {"field": "metric", "type": "string", "optional": False},
        {
            "field": "ts",
            "type": "int64",
            "optional": False,
            "name": "org.apache.kafka.connect.data.Timestamp",
            "version": 1,
        },
        {"field": "value", "type": "double", "optional": True},
        {"field": "text", "type": "string", "optional": True},
    ],
}


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def resolve() -> tuple[str, Path]:
    """Connect's classpath and the folder of plugins holding the connector (cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    classpath = CACHE / "classpath.txt"
    pom = PEER / "pom.xml"
    if not classpath.exists() or classpath.stat().st_mtime < pom.stat().st_mtime:
        log("resolving Kafka Connect's classpath with Maven (cached after the first run)")
        _maven(
            "-f",
            str(pom),
            "dependency:build-classpath",
            "-Dmdep.includeScope=runtime",
            f"-Dmdep.outputFile={classpath}",
        )
    plugins = CACHE / "plugins"
    if not (plugins / "debezium-connector-jdbc").is_dir():
        log(f"fetching the connector's plugin archive {CONNECTOR}")
        archives = CACHE / "archives"
        _maven(
            "-s",
            str(REPO_ROOT / "deploy" / "maven-settings.xml"),
            "dependency:copy",
            f"-Dartifact={CONNECTOR}",
            f"-DoutputDirectory={archives}",
        )
        [archive] = archives.glob("debezium-connector-jdbc-*-plugin.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(plugins, filter="data")
    return classpath.read_text(encoding="utf-8").strip(), plugins


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: `make tools` installs it (Debian's package)")
    return path


def _maven(*args: str) -> None:
    maven = [_tool("mvn"), "-q", "-B", *args]
    result = subprocess.run(maven, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"Maven failed ({' '.join(args)}):\n{result.stdout[-3000:]}")


def message(row: tuple[Any, ...]) -> bytes:
    feed, entity, metric, ts, value, text = row
    payload = {
        "feed": feed,
        "entity": entity,
        "metric": metric,
        "ts": int(ts.timestamp() * 1000),
        "value": value,
        "text": text,
    }
    return json.dumps({"schema": SCHEMA, "payload": payload}, ensure_ascii=False).encode()


async def produce_rows(topic: str, rows: list[tuple[Any, ...]], partitions: int) -> None:
    await ensure_topics(stack.KAFKA, {topic: partitions})
    async with producing(stack.KAFKA, linger_ms=20, max_batch_size=256 * 1024) as producer:
        for index, row in enumerate(rows, 1):
            await producer.send(topic, message(row), key=row[1].encode())
            if index % 500_000 == 0:
                log(f"  produced {index:,} / {len(rows):,} rows for the peer")
        await producer.flush()


async def prepare_table(database_url: str, mode: StorageMode, rows: list[tuple[Any, ...]]) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        if mode == "timescaledb":
            await connection.execute(CREATE_TABLE.format(partitioning=""))
            await connection.execute(HYPERTABLE)
            return
        await connection.execute(CREATE_TABLE.format(partitioning=" PARTITION BY RANGE (ts)"))
        first, last = min(row[3] for row in rows), max(row[3] for row in rows)
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            following = (year + month // 12, month % 12 + 1)
            await connection.execute(
                MONTH.format(
                    name=f"{year}_{month:02d}",
                    start=f"{year}-{month:02d}",
                    end=f"{following[0]}-{following[1]:02d}",
                )
            )
            year, month = following
    finally:
        await connection.close()


def properties(values: dict[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def measure(
    database_url: str, mode: StorageMode, rows: list[tuple[Any, ...]], feeds: int
) -> tuple[float, dict[str, float]]:
    """The peer's run over ``rows`` into a table of its own in ``database_url``: its seconds
    from first row to last, and the CPU seconds each side used meanwhile (Connect,
    PostgreSQL, Kafka)."""
    classpath, plugins = resolve()
    run = CACHE / f"run-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    topic = f"peer{uuid.uuid4().hex[:6]}.canonical"
    asyncio.run(prepare_table(database_url, mode, rows))
    log(f"the peer: {len(rows):,} canonical rows as JSON with schemas to {topic}")
    asyncio.run(produce_rows(topic, rows, RAW_PARTITIONS * feeds))
    database = database_url.rsplit("/", 1)[1]
    (run / "worker.properties").write_text(
        properties(
            {
                "bootstrap.servers": stack.BOOTSTRAP,
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "true",
                "offset.storage.file.filename": run / "offsets",
                "plugin.path": plugins,
                "listeners": f"http://127.0.0.1:{stack.free_port()}",
                "consumer.max.poll.records": BATCH,
                "consumer.auto.offset.reset": "earliest",
            }
        ),
        encoding="utf-8",
    )
    (run / "connector.properties").write_text(
        properties(
            {
                "name": f"ioc-peer-{run.name}",
                "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
                "tasks.max": TASKS,
                "topics": topic,
                "connection.url": f"jdbc:postgresql://127.0.0.1:{stack.PG_PORT}/{database}",
                "connection.username": "postgres",
                "insert.mode": "upsert",
                "primary.key.mode": "record_value",
                "primary.key.fields": ",".join(KEY),
                "schema.evolution": "none",
                "collection.name.format": TABLE,
                "batch.size": BATCH,
                "use.time.zone": "UTC",
                "dialect.postgres.unnest.insert.enabled": "true",
            }
        ),
        encoding="utf-8",
    )
    log(f"the peer: Kafka Connect with the Debezium JDBC sink, {TASKS} tasks")
    with open(run / "connect.log", "wb") as output:
        connect = subprocess.Popen(
            [
                _tool("java"),
                "-Xms256m",
                "-Xmx1g",
                f"-Dlog4j2.configurationFile={PEER / 'log4j2.properties'}",
                "-cp",
                classpath,
                "org.apache.kafka.connect.cli.ConnectStandalone",
                str(run / "worker.properties"),
                str(run / "connector.properties"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_rows(database_url, 1, connect, run)
        cpu_at_first = _cpu(connect.pid)  # from the first row: start-up is not ingest
        _wait_for_rows(database_url, len(rows), connect, run)
        cpu_used = {k: v - cpu_at_first[k] for k, v in _cpu(connect.pid).items()}
    finally:
        connect.terminate()
        connect.wait(timeout=60)
    first, last = asyncio.run(_write_span(database_url))
    return (last - first).total_seconds(), cpu_used


def _cpu(pid: int) -> dict[str, float]:
    return {
        "connect": cpu.process_seconds(pid),
        "postgres": cpu.postgres_seconds(),
        "kafka": cpu.kafka_seconds(),
    }


def _wait_for_rows(
    database_url: str, expected: int, connect: subprocess.Popen[bytes], run: Path
) -> None:
    shown = 0
    while True:
        if connect.poll() is not None:
            raise RuntimeError(f"Kafka Connect exited: see {run / 'connect.log'}")
        held = asyncio.run(_count(database_url))
        if held >= expected:
            return
        if held - shown >= 250_000:
            log(f"  the peer holds {held:,} / {expected:,} rows")
            shown = held
        time.sleep(1)


async def _count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        held: int = await connection.fetchval(f"SELECT count(*) FROM {TABLE}")
        return held
    finally:
        await connection.close()


async def _write_span(database_url: str) -> tuple[datetime, datetime]:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            f"SELECT min(written_at) AS first, max(written_at) AS last FROM {TABLE}"
        )
        return row["first"], row["last"]
    finally:
        await connection.close()
