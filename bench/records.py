"""Department records for the benchmark, made from each feed's examples: the same formats and
values, with entities and times varied so every record is a series point of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.feeds import FeedDefinition
from services.simulator.simulate import retimed

# Share of each feed in the mixed stream: the fast sensors dominate, as in the real IOC.
MIX = {
    "salinity": 0.30,
    "traffic": 0.30,
    "air-quality": 0.15,
    "citizen-feedback": 0.10,
    "hospital-beds": 0.05,
    "admin-dossiers": 0.05,
    "programme-tasks": 0.05,
}
STEPS_PER_ENTITY = 200


@dataclass(frozen=True, slots=True)
class Generated:
    feed: str
    key: bytes
    value: bytes


def _set(message: dict[str, Any], path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    for parent in parents:
        message = message[parent]
    message[leaf] = value


def mixed_records(
    feeds: dict[str, FeedDefinition], total: int, *, run: int, end: datetime
) -> Iterator[Generated]:
    """``total`` records, interleaved by feed. Entities are five digits (a commune code is),
    the first being ``run`` (1-9) so two runs never share a series. Every time lies before
    ``end`` and inside the feed's backfill window."""
    templates = {
        name: [json.loads(line) for line in feeds[name].examples_path.read_text().splitlines()]
        for name in MIX
    }
    counts = {name: int(total * share) for name, share in MIX.items()}
    counts["salinity"] += total - sum(counts.values())
    cursors = dict.fromkeys(MIX, 0)
    order = [name for name in MIX for _ in range(int(MIX[name] * 100))]
    produced = 0
    while produced < total:
        for name in order:
            n = cursors[name]
            if n >= counts[name]:
                continue
            cursors[name] += 1
            produced += 1
            feed = feeds[name]
            steps = min(STEPS_PER_ENTITY, feed.backfill_days * 86400 // feed.cadence_seconds - 2)
            entity, step = f"{run}{n // steps:04d}", n % steps
            # Days for daily feeds keep to their cadence; others step by cadence too.
            moment = end - timedelta(seconds=feed.cadence_seconds * (step + 1))
            moment = moment.astimezone(UTC)
            message = retimed(templates[name][n % len(templates[name])], feed.time, moment)
            _set(message, feed.entity, entity)
            yield Generated(name, entity.encode(), json.dumps(message, ensure_ascii=False).encode())
