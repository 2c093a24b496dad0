"""Plays the department feeds live: each feed's examples, re-timed to now, at the feed's cadence,
in the department's own format, produced to its raw topic as a department would."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from itertools import cycle
from typing import Any

from aiokafka import AIOKafkaProducer

from services.common.feeds import FeedDefinition, TimeSpec
from services.common.kafka import KafkaConnection, producing
from services.common.paths import value_at, with_value_at
from services.common.topics import Topics
from services.simulator.faults import FaultRates, Faults

log = logging.getLogger("ioc.simulator")


def render_time(spec: TimeSpec, moment: datetime) -> object:
    """``moment`` written the way the department writes its times."""
    local = moment.astimezone(spec.zone or UTC)
    if spec.format == "iso8601":
        return local.isoformat()
    if spec.format == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if spec.format == "date":
        return local.date().isoformat()
    return local.strftime(spec.format)


def retimed(message: dict[str, Any], spec: TimeSpec, moment: datetime) -> dict[str, Any]:
    return with_value_at(message, spec.field, render_time(spec, moment))


def examples_by_entity(feed: FeedDefinition) -> dict[str, list[dict[str, Any]]]:
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in feed.examples_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            message = json.loads(line)
            by_entity[str(value_at(message, feed.entity))].append(message)
    return by_entity


async def play_feed(
    producer: AIOKafkaProducer,
    topic: str,
    feed: FeedDefinition,
    stop: asyncio.Event,
    faults: Faults,
) -> None:
    cadence = timedelta(seconds=feed.cadence_seconds)
    players = {entity: cycle(messages) for entity, messages in examples_by_entity(feed).items()}
    quiet, first = 0, True  # the first slot always sends: the wall has data from the start
    while not stop.is_set():
        now = datetime.now(UTC)
        slot = now - (now - datetime.min.replace(tzinfo=UTC)) % cadence
        quiet = 0 if first else quiet - 1 if quiet else faults.quiet_slots()
        first = False
        if quiet:
            log.info("simulator: %s goes quiet this slot (a late department)", feed.feed)
        else:
            for entity, messages in players.items():
                message = faults.with_no_reading(retimed(next(messages), feed.time, slot), feed)
                await _send(producer, topic, entity, message)
                corrected = faults.correction(message, feed)
                if corrected is not None:
                    log.info(
                        "simulator: %s re-sends %s's previous day, corrected", feed.feed, entity
                    )
                    await _send(
                        producer, topic, entity, retimed(corrected, feed.time, slot - cadence)
                    )
            log.info("simulator: %s, %d entities at %s", feed.feed, len(players), slot.isoformat())
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=feed.cadence_seconds)


async def _send(
    producer: AIOKafkaProducer, topic: str, entity: str, message: dict[str, Any]
) -> None:
    value = json.dumps(message, ensure_ascii=False).encode()
    await producer.send_and_wait(topic, value, key=entity.encode())


async def run_simulator(
    kafka: KafkaConnection,
    topics: Topics,
    feeds: list[FeedDefinition],
    stop: asyncio.Event,
    rates: FaultRates | None = None,
) -> None:
    """Plays every feed until ``stop``; with the faults of real life at ``rates`` (default)."""
    faults = Faults(rates or FaultRates(), random.Random())
    async with producing(kafka) as producer:
        await asyncio.gather(
            *(play_feed(producer, topics.raw(feed.feed), feed, stop, faults) for feed in feeds)
        )
