"""An upload, once its file is read: the file claimed for its unit and feed (the same file
again answers the first receipt and produces nothing), its rows made the feed's messages
(``table.py``), each checked by the feed's intake and produced as a push is
(``push/service.py``: ``record_of``, ``produce``), except a row identical to the one an
earlier upload of the unit produced for the same entity and time; answered once Kafka holds
them all, with the receipt kept with the file."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.api.errors import Conflict
from services.api.push.body import PayloadTooLarge, Unprocessable
from services.api.push.gateway import KafkaGateway
from services.api.push.service import produce, record_of
from services.api.uploads import repository
from services.api.uploads.body import UploadedFile
from services.api.uploads.schemas import LISTED, IgnoredPart, RowRejection, UploadReceipt
from services.api.uploads.table import BadRow, DataRow, Ignored, Rejected, read_sheet
from services.api.uploads.wording import LANGUAGES, Language, Problem
from services.api.uploads.workbook import Unreadable, sheets_of
from services.common.canonical import Rejection
from services.common.db import DATABASE_ERRORS
from services.common.feed_fields import FeedField
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake

log = logging.getLogger("ioc.api")
STALE_CLAIM = timedelta(minutes=15)  # an upload unanswered this long died with its process
# The broker is given its timeout (IOC_BROKER_TIMEOUT_S) for each this many rows of an upload:
# 50,000 rows are acknowledged in seconds, but not always within a push's timeout.
ROWS_PER_BROKER_TIMEOUT = 10_000


class UploadRefused(Unprocessable):
    """The file as a whole cannot be read; its detail is worded in every language."""

    def __init__(self, problem: Problem, language: Language) -> None:
        super().__init__(problem.worded(language))


@dataclass(frozen=True, slots=True)
class Uploading:
    """What an upload needs beyond its file: the feed, its intake, the broker, the clock."""

    feed: FeedDefinition
    fields: tuple[FeedField, ...]
    intake: FeedIntake
    gateway: KafkaGateway
    topic: str
    now: datetime
    future_bound: timedelta
    max_rows: int
    broker_timeout_s: float


@dataclass(slots=True)
class _Outcome:
    rows: int = 0
    records: list[tuple[repository.RowKey, bytes, bytes]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


async def upload(
    pool: Any,
    file: UploadedFile,
    uploading: Uploading,
    *,
    unit: str,
    key_id: int,
    language: Language,
) -> UploadReceipt:
    digest = hashlib.sha256(file.content).hexdigest()
    seen = repository.FileSeen(
        uploading.feed.feed, unit, digest, key_id, file.name, len(file.content)
    )
    async with pool.acquire() as connection:
        claimed = await repository.claim(connection, seen, now=uploading.now, stale=STALE_CLAIM)
    if isinstance(claimed, repository.Answered):
        return UploadReceipt.model_validate(claimed.receipt[language])
    if isinstance(claimed, repository.InFlight):
        raise Conflict("this file is being uploaded now; its receipt follows when it is done")
    try:
        receipts = await _upload(pool, file, uploading, claimed.upload, digest, unit, language)
    except BaseException:
        # A refusal, a failure or a cancellation: nothing is kept, and the claim goes, so the
        # same file may be sent again. A cancelled upload sends no more rows (the gateway drops
        # what its producer held), but those already sent may be on the topic: sent again, they
        # are stored once (the reasons are where the rows are kept, below).
        async with pool.acquire() as connection:
            await repository.release(connection, claimed.upload)
        raise
    return receipts[language]


async def _upload(
    pool: Any,
    file: UploadedFile,
    uploading: Uploading,
    upload_id: int,
    digest: str,
    unit: str,
    language: Language,
) -> dict[Language, UploadReceipt]:
    # Reading and checking 50,000 rows takes seconds of CPU: off the event loop.
    started = time.perf_counter()
    outcome = await asyncio.to_thread(_read, file, uploading, language)
    read = time.perf_counter()
    hashed = list(_hashed(outcome.records))
    # The last row of the file for an entity and time is the one the store keeps.
    latest = {key: hash_ for key, hash_, _ in hashed}
    async with pool.acquire() as connection:
        before = await repository.produced_before(
            connection, uploading.feed.feed, unit, list(latest)
        )
    fresh = {key: hash_ for key, hash_ in latest.items() if before.get(key) != hash_}
    records = [record for key, _, record in hashed if key in fresh]
    accepted = len(outcome.records)
    receipts = {
        lang: _receipt(upload_id, file, digest, outcome, accepted, len(records), lang)
        for lang in LANGUAGES
    }
    if records:
        # No connection is held while the broker acknowledges: a slow broker would otherwise
        # hold one of the pool's few connections, and a transaction, per upload waiting on it.
        shares = max(1.0, len(records) / ROWS_PER_BROKER_TIMEOUT)
        timeout_s = uploading.broker_timeout_s * shares
        await produce(uploading.gateway, uploading.topic, records, timeout_s=timeout_s)
    # Kept only once Kafka holds every row, in one short transaction. A crash between the two
    # (or a store that fails here) leaves the rows on the topic with no receipt and no hashes:
    # the claim is released (or goes stale), so the same file uploaded again is read again and
    # its rows produced again. That counts nothing twice in the store: the records are keyed
    # by entity and the worker's writes are upserts by entity, metric and event time, so each
    # row is stored once with the same values (sạch sees the rows sent again as repeats, as it
    # sees a push retried). Keeping the hashes first instead would be worse: a crash before the
    # broker acknowledged would mark rows produced that never were, and a re-upload would skip
    # them for good.
    async with pool.acquire() as connection, connection.transaction():
        await repository.keep(
            connection,
            upload_id,
            feed=uploading.feed.feed,
            unit=unit,
            receipt={lang: r.model_dump(mode="json") for lang, r in receipts.items()},
            content=file.content,
            produced=fresh,
        )
    produced = time.perf_counter()
    log.info(
        "upload %d (%s, %s): %d rows read and checked in %.2f s, %d produced and kept in %.2f s",
        upload_id,
        uploading.feed.feed,
        unit,
        outcome.rows,
        read - started,
        len(records),
        produced - read,
    )
    return receipts


def _hashed(
    records: list[tuple[repository.RowKey, bytes, bytes]],
) -> Iterator[tuple[repository.RowKey, bytes, tuple[bytes, bytes]]]:
    for key, entity, value in records:
        yield key, hashlib.sha256(value).digest(), (entity, value)


def _read(file: UploadedFile, uploading: Uploading, language: Language) -> _Outcome:
    """Every sheet's rows checked by the feed's intake; pure but for the intake's clock."""
    outcome = _Outcome()
    found_table = False
    try:
        for sheet in sheets_of(file.content, file.kind):
            for read in read_sheet(sheet, uploading.fields, uploading.feed.feed):
                if isinstance(read, Ignored):
                    found_table |= read.problem.code != "no_header"
                    outcome.ignored.append(read)
                    continue
                found_table = True
                if isinstance(read, Rejected):
                    outcome.rejected.append(read)
                    continue
                outcome.rows += 1
                if outcome.rows > uploading.max_rows:
                    problem = Problem("too_many_rows", {"limit": uploading.max_rows})
                    raise PayloadTooLarge(problem.worded(language))
                if isinstance(read, BadRow):
                    outcome.rejected.extend(read.problems)
                    continue
                _check(read, uploading, outcome)
    except Unreadable as error:
        figures = {"kind": file.kind, "reason": str(error)}
        raise UploadRefused(Problem("unreadable", figures), language) from None
    if not found_table:
        examples = ", ".join(repr(f.title) for f in uploading.fields[:3])
        figures = {"feed": uploading.feed.feed, "examples": examples}
        raise UploadRefused(Problem("no_table", figures), language)
    return outcome


def _check(row: DataRow, uploading: Uploading, outcome: _Outcome) -> None:
    checked = uploading.intake.check(
        row.message, now=uploading.now, future_bound=uploading.future_bound
    )
    if isinstance(checked, Rejection):
        column = _column_named(checked.reason, row.columns)
        outcome.rejected.append(Rejected(row.sheet, row.row, column, checked.reason))
        return
    entity, value = record_of(row.message, checked)
    outcome.records.append(((checked.entity, checked.ts), entity, value))


def _column_named(reason: str, columns: Mapping[str, str]) -> str | None:
    """The column of the field the intake's reason names (``ho_so/tiep_nhan: …``), if one."""
    named = [
        (len(path), letters)
        for path, letters in columns.items()
        if path in reason or path.replace(".", "/") in reason
    ]
    return max(named)[1] if named else None


def _receipt(
    upload_id: int,
    file: UploadedFile,
    digest: str,
    outcome: _Outcome,
    accepted: int,
    produced: int,
    language: Language,
) -> UploadReceipt:
    return UploadReceipt(
        upload=upload_id,
        file=file.name,
        sha256=digest,
        rows=outcome.rows,
        accepted=accepted,
        produced=produced,
        unchanged=accepted - produced,
        rejected=[
            RowRejection(
                sheet=item.sheet,
                row=item.row,
                column=item.column,
                error=item.problem
                if isinstance(item.problem, str)
                else item.problem.worded(language),
            )
            for item in outcome.rejected[:LISTED]
        ],
        rejected_count=len(outcome.rejected),
        ignored=[
            IgnoredPart(
                sheet=item.sheet,
                row=item.row,
                column=item.column,
                reason=item.problem.worded(language),
            )
            for item in outcome.ignored[:LISTED]
        ],
        ignored_count=len(outcome.ignored),
    )


async def keep_purging(
    pool: Any,
    feeds: Mapping[str, FeedDefinition],
    clock: Callable[[], datetime],
    kept: timedelta,
    every_s: float,
) -> None:
    """Deletes, every ``every_s``, the files kept ``kept`` (their receipts stay) and what uploads
    produced for event times their feed no longer accepts (its backfill)."""
    while True:
        now = clock()
        try:
            async with pool.acquire() as connection:
                files, rows = await repository.purge(
                    connection,
                    files_before=now - kept,
                    rows_before={
                        name: now - timedelta(days=feed.backfill_days)
                        for name, feed in feeds.items()
                    },
                )
            if files or rows:
                log.info(
                    "uploads: %d files kept past %s and %d row hashes deleted", files, kept, rows
                )
        except DATABASE_ERRORS as error:
            log.warning("uploads not purged: database unavailable (%r)", error)
        await asyncio.sleep(every_s)
