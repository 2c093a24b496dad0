"""Every statement of the uploads: claiming a file, what earlier uploads produced, the receipt
kept with the file, a unit's list, and the purge of what is kept past its time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RowKey = tuple[str, datetime]  # entity, event time (UTC)


@dataclass(frozen=True, slots=True)
class Claimed:
    upload: int


@dataclass(frozen=True, slots=True)
class Answered:
    """The same file was uploaded before: its receipt, in every language."""

    receipt: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InFlight:
    upload: int


@dataclass(frozen=True, slots=True)
class FileSeen:
    feed: str
    unit: str
    sha256: str
    key_id: int
    file_name: str | None
    size: int


async def claim(
    connection: Any, seen: FileSeen, *, now: datetime, stale: timedelta
) -> Claimed | Answered | InFlight:
    """Claims the file for this unit and feed, unless it was uploaded before (its receipt) or is
    being uploaded now. A claim left unanswered longer than ``stale`` (a crashed process) is
    taken over."""
    async with connection.transaction():
        await connection.execute(
            "DELETE FROM uploads WHERE feed = $1 AND unit = $2 AND sha256 = $3"
            " AND receipt IS NULL AND received_at < $4",
            seen.feed,
            seen.unit,
            seen.sha256,
            now - stale,
        )
        upload = await connection.fetchval(
            "INSERT INTO uploads (feed, unit, sha256, key_id, file_name, size, received_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (feed, unit, sha256) DO NOTHING RETURNING id",
            seen.feed,
            seen.unit,
            seen.sha256,
            seen.key_id,
            seen.file_name,
            seen.size,
            now,
        )
        if upload is not None:
            return Claimed(upload)
        row = await connection.fetchrow(
            "SELECT id, receipt FROM uploads WHERE feed = $1 AND unit = $2 AND sha256 = $3",
            seen.feed,
            seen.unit,
            seen.sha256,
        )
    if row is None:  # released between the two statements: the caller may try again
        return InFlight(0)
    if row["receipt"] is None:
        return InFlight(row["id"])
    return Answered(row["receipt"])


async def release(connection: Any, upload: int) -> None:
    """Forgets a claim that produced nothing (a file refused, a broker away): a retry works."""
    await connection.execute("DELETE FROM uploads WHERE id = $1 AND receipt IS NULL", upload)


async def produced_before(
    connection: Any, feed: str, unit: str, keys: Sequence[RowKey]
) -> dict[RowKey, bytes]:
    """The content hash of the row last produced for each of ``keys`` by this unit's uploads."""
    if not keys:
        return {}
    rows = await connection.fetch(
        "SELECT r.entity, r.event_time, r.content_hash FROM upload_rows r"
        " JOIN unnest($3::text[], $4::timestamptz[]) AS k (entity, event_time)"
        " ON r.entity = k.entity AND r.event_time = k.event_time"
        " WHERE r.feed = $1 AND r.unit = $2",
        feed,
        unit,
        [entity for entity, _ in keys],
        [at for _, at in keys],
    )
    return {(row["entity"], row["event_time"]): row["content_hash"] for row in rows}


async def keep(
    connection: Any,
    upload: int,
    *,
    feed: str,
    unit: str,
    receipt: Mapping[str, Any],
    content: bytes,
    produced: Mapping[RowKey, bytes],
) -> None:
    """Keeps the receipt, the file and what the upload produced, in the caller's transaction:
    called once the broker has acknowledged every row."""
    await connection.execute("UPDATE uploads SET receipt = $2 WHERE id = $1", upload, dict(receipt))
    await connection.execute(
        "INSERT INTO upload_files (upload_id, content) VALUES ($1, $2)", upload, content
    )
    if produced:
        await connection.execute(
            "INSERT INTO upload_rows (feed, unit, entity, event_time, content_hash, upload_id)"
            " SELECT $1, $2, k.entity, k.event_time, k.content_hash, $6"
            " FROM unnest($3::text[], $4::timestamptz[], $5::bytea[])"
            " AS k (entity, event_time, content_hash)"
            " ON CONFLICT (feed, unit, entity, event_time) DO UPDATE"
            " SET content_hash = EXCLUDED.content_hash, upload_id = EXCLUDED.upload_id",
            feed,
            unit,
            [entity for entity, _ in produced],
            [at for _, at in produced],
            list(produced.values()),
            upload,
        )


async def uploads_of(connection: Any, feed: str, unit: str, limit: int) -> list[Any]:
    return list(
        await connection.fetch(
            "SELECT u.id, u.file_name, u.size, u.sha256, u.received_at, u.key_id, u.receipt,"
            " f.upload_id IS NOT NULL AS file_kept"
            " FROM uploads u LEFT JOIN upload_files f ON f.upload_id = u.id"
            " WHERE u.feed = $1 AND u.unit = $2 AND u.receipt IS NOT NULL"
            " ORDER BY u.id DESC LIMIT $3",
            feed,
            unit,
            limit,
        )
    )


async def purge(
    connection: Any, *, files_before: datetime, rows_before: Mapping[str, datetime]
) -> tuple[int, int]:
    """Deletes the files kept their time (their receipts stay) and, per feed, what uploads
    produced for event times the feed no longer accepts; returns how many of each."""
    files: str = await connection.execute(
        "DELETE FROM upload_files f USING uploads u"
        " WHERE f.upload_id = u.id AND u.received_at < $1",
        files_before,
    )
    rows = 0
    for feed, before in rows_before.items():
        done: str = await connection.execute(
            "DELETE FROM upload_rows WHERE feed = $1 AND event_time < $2", feed, before
        )
        rows += int(done.split()[-1])
    return int(files.split()[-1]), rows
