"""What a committed batch tells the operators: its metrics, a debug line, and a warning per
quarantined record, where an operator finds it (feed, topic, partition, offset, reason) without
opening the quarantine table."""

from __future__ import annotations

import logging
from collections import Counter

from services.ingest import metrics
from services.ingest.batch import Batch

log = logging.getLogger("ioc.ingest")


def report_committed(batch: Batch) -> None:
    metrics.BATCH_RECORDS.observe(batch.records)
    for feed, count in batch.records_by_feed.items():
        metrics.RECORDS_IN.labels(feed).inc(count)
    for feed, count in Counter(row.observation.feed for row in batch.rows.values()).items():
        metrics.ROWS_WRITTEN.labels(feed).inc(count)
    for feed, count in Counter(record.feed for record in batch.quarantined).items():
        metrics.RECORDS_REJECTED.labels(feed).inc(count)
    log.debug(
        "batch committed: %d records, %d rows",
        batch.records,
        len(batch.rows),
        extra={"batch": batch.number, "records": batch.records, "rows": len(batch.rows)},
    )
    for record in batch.quarantined:
        log.warning(
            "record quarantined: %s",
            record.reason,
            extra={
                "batch": batch.number,
                "feed": record.feed,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": record.reason,
            },
        )
