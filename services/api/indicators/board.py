"""The wall's indicators as kept state: evaluated once per refresh, not once per request.

A refresh runs on a short cadence (staleness flips as time passes) and as soon as the worker
says new data was committed (PostgreSQL NOTIFY on ``INGESTED_CHANNEL``). Each answer is kept
rendered with its strong ETag, so a poll costs a dictionary lookup, and an indicator whose
answer changed is announced to the ``/v1/stream`` subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.api.caching import Rendered
from services.api.indicators.definitions import IndicatorDefinition
from services.api.indicators.repository import evaluate
from services.api.indicators.schemas import BreakdownItem, IndicatorList, IndicatorOut
from services.api.indicators.status import status_of
from services.common.db import DATABASE_ERRORS, INGESTED_CHANNEL
from services.common.feeds import FeedDefinition

log = logging.getLogger("ioc.api")
LANGUAGES = ("vi", "en")
SUBSCRIBER_BACKLOG = 64  # changes a slow subscriber may owe before it is told to resync
RESYNC = "*"  # in place of an id: too much changed for this subscriber, send it everything


class IndicatorBoard:
    def __init__(
        self,
        pool: Any,
        feeds: dict[str, FeedDefinition],
        indicators: dict[str, IndicatorDefinition],
        clock: Callable[[], datetime],
    ) -> None:
        self.pool = pool
        self.feeds = feeds
        self.indicators = indicators
        self.clock = clock
        self._one: dict[tuple[str, str], Rendered] = {}  # (indicator id, lang) -> answer
        self._all: dict[str, Rendered] = {}  # lang -> the whole list
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def one(self, indicator_id: str, lang: str) -> Rendered | None:
        return self._one.get((indicator_id, lang))

    def all(self, lang: str) -> Rendered | None:
        return self._all.get(lang)

    async def refresh(self) -> set[str]:
        """Evaluates every indicator now; returns the ids whose answer changed."""
        async with self._lock:
            now = self.clock()
            async with self.pool.acquire() as connection:
                answers = {
                    d.id: await _answer(connection, d, self.feeds[d.feed], now)
                    for d in self.indicators.values()
                }
            changed = set()
            for lang in LANGUAGES:
                localised = [
                    answer.model_copy(update={"title": _title(self.indicators[id_], lang)})
                    for id_, answer in answers.items()
                ]
                for answer in localised:
                    rendered = Rendered.of(answer)
                    if self._one.get((answer.id, lang)) != rendered:
                        changed.add(answer.id)
                    self._one[(answer.id, lang)] = rendered
                self._all[lang] = Rendered.of(IndicatorList(indicators=localised))
        announced = sorted(changed)
        for queue in self._subscribers:
            for indicator_id in announced:
                if queue.qsize() >= SUBSCRIBER_BACKLOG:
                    while not queue.empty():
                        queue.get_nowait()
                    queue.put_nowait(RESYNC)
                    break
                queue.put_nowait(indicator_id)
        return changed

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[str]]:
        """Ids of indicators whose answer changed, for as long as the block runs."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def data_arrived(self, *_: object) -> None:
        """The worker committed new data (a NOTIFY): refresh now rather than at the cadence."""
        self._wake.set()

    async def keep_fresh(self, interval_s: float, database_url: str) -> None:
        """Refreshes every ``interval_s`` and whenever the worker announces data, until cancelled.
        While the store is away the last answers stay served and age into ``stale`` on return."""
        listener: Any = None
        try:
            while True:
                # Cleared before the refresh: a commit announced during it triggers the next.
                self._wake.clear()
                try:
                    if listener is None or listener.is_closed():
                        listener = await asyncpg.connect(database_url)
                        await listener.add_listener(INGESTED_CHANNEL, self.data_arrived)
                    await self.refresh()
                except DATABASE_ERRORS as error:
                    log.warning("indicators not refreshed: database unavailable (%r)", error)
                    if listener is not None:
                        listener.terminate()
                    listener = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
                await asyncio.sleep(0.2)  # one refresh for a burst of commits
        finally:
            if listener is not None and not listener.is_closed():
                await listener.close()


def _title(definition: IndicatorDefinition, lang: str) -> str:
    return definition.title.get(lang) or definition.title["vi"]


async def _answer(
    connection: Any, definition: IndicatorDefinition, feed: FeedDefinition, now: datetime
) -> IndicatorOut:
    evaluation = await evaluate(connection, definition, now)
    status = status_of(
        evaluation.value,
        evaluation.as_of,
        cadence=timedelta(seconds=feed.cadence_seconds),
        thresholds=definition.thresholds,
        now=now,
    )
    breakdown = None
    if evaluation.breakdown is not None:
        breakdown = [
            BreakdownItem(code=code, value=value)
            for code, value in sorted(evaluation.breakdown.items())
        ]
    return IndicatorOut(
        id=definition.id,
        title=_title(definition, "vi"),
        value=evaluation.value,
        unit=definition.unit,
        status=status,
        as_of=evaluation.as_of,
        updated_at=evaluation.updated_at,
        breakdown=breakdown,
    )
