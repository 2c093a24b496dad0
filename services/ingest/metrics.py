"""The worker's Prometheus metrics (served on its own port, IOC_WORKER_METRICS_PORT)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

RECORDS_IN = Counter("ioc_ingest_records_total", "Kafka records consumed", ["feed"])
ROWS_WRITTEN = Counter("ioc_ingest_rows_written_total", "Canonical rows written", ["feed"])
RECORDS_REJECTED = Counter(
    "ioc_ingest_records_rejected_total", "Records quarantined to the DLQ", ["feed"]
)
BATCH_RECORDS = Histogram(
    "ioc_ingest_batch_records",
    "Records per written batch",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
)
WRITE_SECONDS = Histogram("ioc_ingest_write_seconds", "Time to write and commit one batch")
DB_RETRIES = Counter(
    "ioc_ingest_db_retries_total", "Batch writes retried: database unavailable or slow"
)
PAUSED_PARTITIONS = Gauge(
    "ioc_ingest_paused_partitions", "Partitions paused: database away or slow, or feed halted"
)
REBALANCES = Counter(
    "ioc_ingest_rebalances_total", "Partition assignments received (the first one included)"
)
LAST_COMMIT = Gauge(
    "ioc_ingest_last_commit_timestamp_seconds", "Unix time of the last offset commit"
)
CONSUMER_LAG = Gauge(
    "ioc_ingest_consumer_lag_records",
    "Records behind the partition's high watermark after the last batch",
    ["topic", "partition"],
)
FEED_HALTED = Gauge(
    "ioc_ingest_feed_halted", "1 when the feed is halted by the invalid-ratio limit", ["feed"]
)


def initialise(feeds: Iterable[str]) -> None:
    """Every feed's series from the start, at zero: a rate or a ratio over them then exists
    before the first record (Prometheus's advice for labelled metrics)."""
    for feed in feeds:
        for counter in (RECORDS_IN, ROWS_WRITTEN, RECORDS_REJECTED):
            counter.labels(feed=feed)
        FEED_HALTED.labels(feed=feed).set(0)
