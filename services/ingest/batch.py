"""A batch: the records polled from Kafka, turned into canonical rows and rejections.

Within one batch the latest record in log order wins for each key, as it would across batches,
so duplicates never reach one INSERT twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from services.common.canonical import Normalised, Observation, Rejection
from services.common.intake.feed_intake import FeedIntake
from services.common.topics import PULLED_FROM


class KafkaRecord(Protocol):
    topic: str
    partition: int
    offset: int
    value: bytes | None

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An invalid record bound for the dead-letter topic and a row of ``rejections``."""

    feed: str
    topic: str
    partition: int
    offset: int
    reason: str
    raw: bytes


class Received(NamedTuple):
    """One record of the batch as received: where it came from and whether it was invalid."""

    feed: str
    topic: str
    partition: int
    offset: int
    invalid: bool


class Row(NamedTuple):
    """One canonical row and the record it came from (a tuple: one is made for every row)."""

    observation: Observation
    partition: int
    offset: int


@dataclass(slots=True)
class Batch:
    number: int = 0  # the worker's sequence number, for the logs: which batch a line speaks of
    rows: dict[tuple[str, str, str, datetime], Row] = field(default_factory=dict)
    entities: dict[tuple[str, str], Normalised] = field(default_factory=dict)
    quarantined: list[Quarantined] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to commit
    received: list[Received] = field(default_factory=list)  # every record, in log order

    @property
    def records(self) -> int:
        return len(self.received)

    @property
    def records_by_feed(self) -> Counter[str]:
        return Counter(record.feed for record in self.received)

    def add(self, record: KafkaRecord, outcome: Normalised | Rejection, feed: str) -> None:
        invalid = isinstance(outcome, Rejection)
        self.received.append(Received(feed, record.topic, record.partition, record.offset, invalid))
        self.offsets[(record.topic, record.partition)] = record.offset + 1
        if isinstance(outcome, Rejection):
            self.quarantined.append(
                Quarantined(
                    feed,
                    record.topic,
                    record.partition,
                    record.offset,
                    # The reason may quote the record, and a NUL cannot be stored as text.
                    _with_origin(outcome.reason, record.headers).replace("\x00", "\\x00"),
                    record.value or b"",
                )
            )
            return
        rows, partition, offset = self.rows, record.partition, record.offset
        for observation in outcome.observations:
            rows[observation[:4]] = Row(observation, partition, offset)  # feed, entity, metric, ts
        entity_key = (outcome.feed, outcome.entity)
        known = self.entities.get(entity_key)
        if known is None or outcome.ts >= known.ts:
            self.entities[entity_key] = outcome


def _with_origin(reason: str, headers: Sequence[tuple[str, bytes]]) -> str:
    """A pulled record's reason names the page it came from (a page that was not JSON, say)."""
    for name, value in headers:
        if name == PULLED_FROM:
            return f"{reason} (pulled from {value.decode(errors='replace')})"
    return reason


def assemble(
    records: Iterable[KafkaRecord],
    intakes: Mapping[str, FeedIntake],
    *,
    now: Callable[[], datetime],
    future_bound: timedelta,
    into: Batch | None = None,
) -> Batch:
    """Decode, normalise and admit each record, in log order (after those ``into`` holds)."""
    batch = Batch() if into is None else into
    at = now()
    for record in records:
        intake = intakes[record.topic]
        outcome = intake.check_record(record.value, now=at, future_bound=future_bound)
        batch.add(record, outcome, intake.feed)
    return batch
