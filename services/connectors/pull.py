"""One pull of one connector: page after page, each page's records checked by the feed's intake
and produced to the feed's raw topic keyed by entity, the ``since`` mark saved only once Kafka
acknowledged every record of the pull.

A pulled record is a pushed record, with one difference the department cannot see: a push
answers its rejections to the caller, a pull has no caller, so every record goes to the raw
topic and the worker quarantines the invalid ones (``ioc.dlq`` and ``rejections``, with the
intake's reason, counted against the feed's *sạch* like any other). The worker stays the one
home of the quarantine; the intake's verdict here feeds the metrics and the operator's report.
A page that is not JSON goes the same way, its URL in the record's ``pulled_from`` header,
which the worker adds to the reason."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.api.push.gateway import BrokerUnavailable, KafkaGateway
from services.common.canonical import Rejection
from services.common.db import DATABASE_UNAVAILABLE
from services.common.intake.decode import decode
from services.common.intake.feed_intake import FeedIntake
from services.common.paths import value_at
from services.common.topics import PULLED_FROM, Topics
from services.connectors import metrics
from services.connectors.definitions import Connector
from services.connectors.failures import (
    BrokerRefused,
    CredentialsRefused,
    PageNotJson,
    PageUnreadable,
    StoreUnavailable,
)
from services.connectors.fetch import Page, PageFetcher
from services.connectors.marks import read_mark, save_mark
from services.connectors.paging import PagingError, Request
from services.connectors.since import HighWater, as_param, order_for

log = logging.getLogger("ioc.connectors")
LISTED_REASONS = 3  # invalid records' reasons a report quotes
MAX_PAGES = 10_000  # a paging that never ends is a broken API, not data
MAX_QUARANTINED_PAGE = 512 * 1024  # bytes of a non-JSON page kept (under Kafka's message cap)


@dataclass(frozen=True, slots=True)
class PullReport:
    connector: str
    topic: str
    pages: int
    records: int
    invalid: int
    reasons: tuple[str, ...]  # the first invalid records' reasons
    mark: Any  # the since mark after the pull (None without since)

    @property
    def said(self) -> str:
        """One line for the operator: what came, what the worker will quarantine and why."""
        line = (
            f"{self.connector}: {_counted(self.pages, 'page')}, "
            f"{_counted(self.records, 'record')} to {self.topic}"
        )
        if self.invalid:
            line += (
                f" ({self.invalid} invalid, which the worker quarantines: "
                f"{'; '.join(self.reasons)}{'; ...' if self.invalid > len(self.reasons) else ''})"
            )
        if self.mark is not None:
            line += f"; since {self.mark}"
        return line


@dataclass(frozen=True, slots=True)
class _Outgoing:
    key: bytes | None  # the entity, where one can be read
    value: bytes
    invalid: bool  # by the intake's verdict here


@dataclass(slots=True)
class _Tally:
    """What a pull has done so far, for its report and the metrics."""

    pages: int = 0
    records: int = 0
    invalid: int = 0
    reasons: list[str] = field(default_factory=list)  # the first invalid records' reasons
    urls: set[str] = field(default_factory=set)  # the pages fetched, to see a loop
    previous: bytes | None = None  # the last page's body, to see a paging that is ignored

    def count(self, connector: str, sent: Sequence[_Outgoing]) -> None:
        invalid = sum(1 for message in sent if message.invalid)
        self.records += len(sent)
        self.invalid += invalid
        metrics.RECORDS.labels(connector=connector, outcome="valid").inc(len(sent) - invalid)
        metrics.RECORDS.labels(connector=connector, outcome="invalid").inc(invalid)


@dataclass(frozen=True, slots=True)
class Puller:
    """What every pull shares: the API client, the producer, the store, the intakes."""

    fetcher: PageFetcher
    gateway: KafkaGateway
    pool: Any
    topics: Topics
    intakes: Mapping[str, FeedIntake]
    now: Callable[[], datetime]
    future_bound: timedelta
    max_pages: int = MAX_PAGES

    async def pull(self, connector: Connector) -> PullReport:
        intake = self.intakes[connector.feed]
        topic = self.topics.raw(connector.feed)
        at = self.now()
        params = dict(connector.params)
        high: HighWater | None = None
        before: Any = None
        if connector.since is not None:
            before = await self._mark(connector.name)
            order = order_for(connector.since.field, intake.normalise)
            high = HighWater(connector.since.field, order, before)
            if before is not None:
                params[connector.since.param] = as_param(before)
        tally = _Tally()
        request: Request | None = connector.paging.first(connector.url, params)
        while request is not None:
            page = await self._fetch(connector, request, tally)
            document = decode(page.body)
            if isinstance(document, Rejection):
                await self._quarantine_page(topic, page)
                raise PageNotJson(
                    f"page {request.number} at {page.url} is not JSON ({document.reason}):"
                    " quarantined"
                )
            found = _records(document, connector, page)
            messages = [self._outgoing(record, intake, at, high, tally) for record in found]
            await self._send(topic, messages, page, request.number)
            tally.count(connector.name, messages)
            try:
                request = connector.paging.following(request, document, len(found))
            except PagingError as error:
                raise PageUnreadable(f"page at {page.url}: {error}") from None
        if high is not None and high.mark is not None and high.mark != before:
            await self._save(connector.name, high.mark)  # every record of the pull is acked
        return PullReport(
            connector.name,
            topic,
            tally.pages,
            tally.records,
            tally.invalid,
            tuple(tally.reasons),
            None if high is None else high.mark,
        )

    async def _fetch(self, connector: Connector, request: Request, tally: _Tally) -> Page:
        """The request's page; refused where the paging runs away or goes round."""
        if request.number > self.max_pages:
            raise PageUnreadable(f"more than {self.max_pages} pages: does the paging end?")
        try:
            page = await self.fetcher.get(
                request.url, request.params, connector.headers, timeout_s=connector.timeout_s
            )
        except CredentialsRefused as refused:
            raise CredentialsRefused(f"{refused}{_named_keys(connector)}") from None
        tally.pages += 1
        metrics.PAGES.labels(connector=connector.name).inc()
        if page.url in tally.urls or page.body == tally.previous:
            raise PageUnreadable(
                f"page {request.number} at {page.url} repeats an earlier page: the API"
                " ignores the paging the definition gives"
            )
        tally.urls.add(page.url)
        tally.previous = page.body
        return page

    def _outgoing(
        self,
        record: Any,
        intake: FeedIntake,
        at: datetime,
        high: HighWater | None,
        tally: _Tally,
    ) -> _Outgoing:
        """A record as it goes to the raw topic: keyed by its entity, with the intake's verdict
        (counted and quoted here; the worker quarantines by its own)."""
        outcome = intake.check(record, now=at, future_bound=self.future_bound)
        reason = outcome.reason if isinstance(outcome, Rejection) else None
        if reason is not None and len(tally.reasons) < LISTED_REASONS:
            tally.reasons.append(reason)
        if high is not None:
            high.see(record)
        entity = intake.normalise.entity_of(record)
        value = json.dumps(record, ensure_ascii=False).encode()
        return _Outgoing(None if entity is None else entity.encode(), value, reason is not None)

    async def _send(
        self, topic: str, messages: Sequence[_Outgoing], page: Page, number: int
    ) -> None:
        if not messages:
            return
        try:
            await self.gateway.send_all(
                topic,
                [(message.key, message.value) for message in messages],
                headers=[(PULLED_FROM, page.url.encode())],
            )
        except BrokerUnavailable as error:
            raise BrokerRefused(
                f"Kafka did not acknowledge the records of page {number} at {page.url} ({error})"
            ) from None

    async def _quarantine_page(self, topic: str, page: Page) -> None:
        """The page, as it came (up to a size), to the raw topic: the worker quarantines it,
        its URL in the reason."""
        await self._send(topic, [_Outgoing(None, page.body[:MAX_QUARANTINED_PAGE], True)], page, 0)

    async def _mark(self, connector: str) -> Any:
        try:
            async with self.pool.acquire() as connection:
                return await read_mark(connection, connector)
        except DATABASE_UNAVAILABLE as error:
            raise StoreUnavailable(f"cannot read the since mark from the store ({error})") from None

    async def _save(self, connector: str, mark: Any) -> None:
        try:
            async with self.pool.acquire() as connection:
                await save_mark(connection, connector, mark, now=self.now())
        except DATABASE_UNAVAILABLE as error:
            raise StoreUnavailable(
                f"every record is in Kafka, but the since mark could not be saved ({error});"
                " the next pull asks again from the previous one"
            ) from None


def _named_keys(connector: Connector) -> str:
    """Where the refused key comes from, by name (never its value)."""
    named = [
        f"{header} from {written}"
        for header, written in connector.header_sources.items()
        if "${" in written
    ]
    return f": {', '.join(named)}" if named else ""


def _counted(count: int, thing: str) -> str:
    return f"{count} {thing}" if count == 1 else f"{count} {thing}s"


def _records(document: Any, connector: Connector, page: Page) -> list[Any]:
    found = value_at(document, connector.records) if connector.records else document
    if not isinstance(found, list):
        where = f"at {connector.records!r}" if connector.records else "(the page itself)"
        raise PageUnreadable(
            f"page at {page.url}: no list of records {where}; `records` in {connector.path}"
            " says where a page holds them"
        )
    return found
