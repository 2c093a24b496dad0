"""Plays the department feeds live: each feed's examples, re-timed to now, at the feed's cadence,
in the department's own format, produced to its raw topic as a department would."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from itertools import cycle
from typing import Any

from aiokafka import AIOKafkaProducer

from services.common.feeds import FeedDefinition, TimeSpec
from services.common.topics import Topics

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
    copy: dict[str, Any] = json.loads(json.dumps(message))
    *parents, leaf = spec.field.split(".")
    target = copy
    for parent in parents:
        target = target[parent]
    target[leaf] = render_time(spec, moment)
    return copy


def examples_by_entity(feed: FeedDefinition) -> dict[str, list[dict[str, Any]]]:
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in feed.examples_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            message = json.loads(line)
            entity: Any = message
            for part in feed.entity.split("."):
                entity = entity[part]
            by_entity[str(entity)].append(message)
    return by_entity


async def play_feed(
    producer: AIOKafkaProducer, topic: str, feed: FeedDefinition, stop: asyncio.Event
) -> None:
    cadence = timedelta(seconds=feed.cadence_seconds)
    players = {entity: cycle(messages) for entity, messages in examples_by_entity(feed).items()}
    while not stop.is_set():
        now = datetime.now(UTC)
        slot = now - (now - datetime.min.replace(tzinfo=UTC)) % cadence
        for entity, messages in players.items():
            message = retimed(next(messages), feed.time, slot)
            await producer.send_and_wait(
                topic,
                json.dumps(message, ensure_ascii=False).encode(),
                key=entity.encode(),
            )
        log.info("simulator: %s, %d entities at %s", feed.feed, len(players), slot.isoformat())
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=feed.cadence_seconds)


async def run_simulator(
    bootstrap: str, topics: Topics, feeds: list[FeedDefinition], stop: asyncio.Event
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await asyncio.gather(
            *(play_feed(producer, topics.raw(feed.feed), feed, stop) for feed in feeds)
        )
    finally:
        await producer.stop()
