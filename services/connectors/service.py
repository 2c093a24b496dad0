"""The connectors service: every connector pulled on its own schedule (``ioc connectors run``),
or each given one pulled once (``--once``). A failed pull is counted and logged and tried again
at the connector's next period; it never stops the others, and the service never restarts for
it. Anything unexpected (a bug) stops the service loudly, for its supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime

import httpx

from services.api.push.gateway import KafkaGateway
from services.common.db import create_pool
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake
from services.common.systemd import notify
from services.connectors import metrics
from services.connectors.definitions import Connector
from services.connectors.failures import PullFailed
from services.connectors.fetch import PageFetcher
from services.connectors.pull import Puller, PullReport
from services.connectors.settings import ConnectorsSettings

log = logging.getLogger("ioc.connectors")


def utc_now() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def opened_puller(
    settings: ConnectorsSettings,
    feeds: Mapping[str, FeedDefinition],
    *,
    now: Callable[[], datetime],
) -> AsyncIterator[Puller]:
    """The API client, the producer and the store's pool, closed on leaving."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise
    common = settings.common
    pool = await create_pool(common.database_url, min_size=1, max_size=2)
    gateway = KafkaGateway(common.kafka, timeout_s=settings.kafka_timeout_s)
    try:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            yield Puller(
                fetcher=PageFetcher(client, settings.retry, now=now),
                gateway=gateway,
                pool=pool,
                topics=common.topics,
                intakes={name: FeedIntake.of(feed) for name, feed in feeds.items()},
                now=now,
                future_bound=common.future_bound,
            )
    finally:
        await gateway.close()
        await pool.close()


async def attempt(puller: Puller, connector: Connector) -> PullReport | PullFailed:
    """One pull, counted: its report, or its failure (returned, never raised)."""
    try:
        report = await puller.pull(connector)
    except PullFailed as failure:
        metrics.FAILURES.labels(connector=connector.name, kind=failure.kind).inc()
        return failure
    metrics.LAST_SUCCESS.labels(connector=connector.name).set(puller.now().timestamp())
    return report


async def pull_once(
    settings: ConnectorsSettings,
    connectors: Sequence[Connector],
    feeds: Mapping[str, FeedDefinition],
    *,
    now: Callable[[], datetime] = utc_now,
) -> list[PullReport | PullFailed]:
    """Each connector pulled once, one after the other, each outcome in order."""
    async with opened_puller(settings, feeds, now=now) as puller:
        return [await attempt(puller, connector) for connector in connectors]


async def run_connectors(
    settings: ConnectorsSettings,
    connectors: Sequence[Connector],
    feeds: Mapping[str, FeedDefinition],
    stop: asyncio.Event,
    *,
    now: Callable[[], datetime] = utc_now,
) -> None:
    """Every connector on its schedule until ``stop``; a pull in progress then is abandoned
    (its mark was not saved, so the next start asks again from the last one)."""
    async with opened_puller(settings, feeds, now=now) as puller:
        metrics.initialise(connectors, now=now())
        tasks = [asyncio.create_task(_every(puller, connector, stop)) for connector in connectors]
        log.info("connectors started: %s", ", ".join(c.name for c in connectors))
        notify("READY=1", f"STATUS=pulling {len(connectors)} connectors")
        waiting = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            notify("STOPPING=1")
            for task in [waiting, *tasks]:
                task.cancel()
            outcomes = await asyncio.gather(waiting, *tasks, return_exceptions=True)
        for outcome in outcomes:  # a connector's task ends only by a bug: the service's too
            if isinstance(outcome, Exception):
                raise outcome
        log.info("connectors stopped")


async def _every(puller: Puller, connector: Connector, stop: asyncio.Event) -> None:
    """Pulls, then waits out the rest of the period from the pull's start."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        outcome = await attempt(puller, connector)
        if isinstance(outcome, PullFailed):
            log.warning("connector %s failed: %s", connector.name, outcome)
        else:
            log.info("pulled %s", outcome.said)
        rest = connector.every_s - (loop.time() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(rest, 0))
