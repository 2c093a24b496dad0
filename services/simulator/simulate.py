"""Plays the department feeds live: each feed's examples, re-timed to now, at the feed's cadence,
in the department's own format, produced to its raw topic as a department would."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import cycle
from typing import Any

import uvicorn
from aiokafka import AIOKafkaProducer

from services.common.feeds import FeedDefinition, TimeSpec
from services.common.kafka import KafkaConnection, producing
from services.common.paths import value_at, with_value_at
from services.common.topics import Topics
from services.simulator.department_api import SERVED, RecordLog, department_app
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


Send = Callable[[str, dict[str, Any]], Awaitable[None]]  # an entity's message, to where it goes


async def play_feed(send: Send, feed: FeedDefinition, stop: asyncio.Event, faults: Faults) -> None:
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
                await send(entity, message)
                corrected = faults.correction(message, feed)
                if corrected is not None:
                    log.info(
                        "simulator: %s re-sends %s's previous day, corrected", feed.feed, entity
                    )
                    await send(entity, retimed(corrected, feed.time, slot - cadence))
            log.info("simulator: %s, %d entities at %s", feed.feed, len(players), slot.isoformat())
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=feed.cadence_seconds)


def to_kafka(producer: AIOKafkaProducer, topic: str) -> Send:
    """A department that publishes to its raw topic itself, keyed by entity."""

    async def send(entity: str, message: dict[str, Any]) -> None:
        value = json.dumps(message, ensure_ascii=False).encode()
        await producer.send_and_wait(topic, value, key=entity.encode())

    return send


def to_log(log: RecordLog) -> Send:
    """A department whose system keeps the records for the IOC to pull."""

    async def send(entity: str, message: dict[str, Any]) -> None:
        log.append(message)

    return send


@dataclass(frozen=True, slots=True)
class DepartmentApi:
    """Where the simulator serves the pulled departments' APIs, and the key they want."""

    host: str
    port: int
    key: str = field(repr=False)


async def run_simulator(
    kafka: KafkaConnection,
    topics: Topics,
    feeds: list[FeedDefinition],
    stop: asyncio.Event,
    rates: FaultRates | None = None,
    api: DepartmentApi | None = None,
) -> None:
    """Plays every feed until ``stop``; with the faults of real life at ``rates`` (default).
    With ``api``, the feeds of ``department_api.SERVED`` are served there for the connectors
    to pull, and not published."""
    faults = Faults(rates or FaultRates(), random.Random())
    served = {s.feed for s in SERVED} if api is not None else set()
    logs = {feed.feed: RecordLog(feed) for feed in feeds if feed.feed in served}
    async with producing(kafka) as producer:
        players = [
            play_feed(
                to_log(logs[feed.feed])
                if feed.feed in logs
                else to_kafka(producer, topics.raw(feed.feed)),
                feed,
                stop,
                faults,
            )
            for feed in feeds
        ]
        if api is not None:
            players.append(_serve(department_app(logs, api.key), api, stop))
        await asyncio.gather(*players)


async def _serve(app: Any, api: DepartmentApi, stop: asyncio.Event) -> None:
    config = uvicorn.Config(app, host=api.host, port=api.port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        stopping.cancel()
        raise RuntimeError(f"the department API could not serve on {api.host}:{api.port}")
    server.should_exit = True
    await serving
