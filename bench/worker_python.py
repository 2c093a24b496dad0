"""The workers' own Python CPU per canonical row, without Kafka or PostgreSQL: the bench's
mixed department records decoded, validated, normalised, admitted and assembled into a batch's
rows (``assemble``), then turned into what the write sends (``prepared``). A quick, repeatable
figure for each lever, beside the bench's end-to-end one (``--profile`` shows where it goes).

    PYTHONPATH=. python -m bench.worker_python [--records N] [--repeats N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime, timedelta

from bench.ingest import Polled
from bench.records import mixed_records
from services.common.feeds import load_feeds
from services.common.intake.feed_intake import FeedIntake
from services.common.settings import REPO_ROOT
from services.common.topics import Topics
from services.ingest import heap
from services.ingest.batch import Batch, assemble
from services.ingest.worker import ASSEMBLY_SLICE, feed_intakes
from services.ingest.writer import prepared

BATCH = 5000  # records: the worker's default IOC_BATCH_MAX_RECORDS


def run(raw: list[tuple[str, bytes]], intakes: dict[str, FeedIntake], now: datetime) -> int:
    """Assembles and prepares every batch as the worker does; returns the canonical rows. The
    records of one batch at a time are objects, as in the worker, whose heap holds no more: the
    collector's work depends on it."""
    rows = 0
    for start in range(0, len(raw), BATCH):
        batch = Batch()
        records = [
            Polled(topic, 0, start + n, value)
            for n, (topic, value) in enumerate(raw[start : start + BATCH])
        ]
        for at in range(0, len(records), ASSEMBLY_SLICE):
            assemble(
                records[at : at + ASSEMBLY_SLICE],
                intakes,
                now=lambda: now,
                future_bound=timedelta(minutes=5),
                into=batch,
            )
        rows += prepared(batch).rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.worker_python")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    feeds = load_feeds(REPO_ROOT / "schemas")
    topics = Topics(namespace="")
    intakes = feed_intakes(feeds.values(), topics)
    now = datetime.now(UTC)
    generated = mixed_records(feeds, args.records, run=1, end=now - timedelta(hours=1))
    raw = [(topics.raw(g.feed), g.value) for g in generated]
    heap.settle()  # as the worker does once started
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run, raw, intakes, now)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    figures = []
    for _ in range(args.repeats):
        began = time.process_time()
        rows = run(raw, intakes, now)
        figures.append((time.process_time() - began) / rows * 1e6)
    print(
        f"{args.records:,} records, {rows:,} rows: CPU us a row "
        f"min {min(figures):.2f}, median {sorted(figures)[len(figures) // 2]:.2f} "
        f"(us a record: {min(figures) * rows / args.records:.2f})"
    )


if __name__ == "__main__":
    main()
