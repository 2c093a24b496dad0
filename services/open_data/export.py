"""Open-data files: one public feed's stored rows for one day, as CSV and Parquet, with a JSON
entry in the folder's catalogue (feed, period, rows, columns with units, checksums).

A day is the province's local day (``ZONE``). Rows are ordered by event time, entity and metric,
and every value is written the same way each time, so the same stored data gives the same bytes
and the same checksum. Files appear whole: each is written beside its place and renamed into it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from services.common.feeds import FeedDefinition
from services.common.province import ZONE, day_start

CATALOGUE = "catalogue.json"
CHUNK = 10_000  # rows read and written at a time: memory stays flat whatever the day holds
COLUMNS = ("entity", "metric", "ts", "value", "text", "unit")
SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("metric", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
        ("text", pa.string()),
        ("unit", pa.string()),
    ]
)
ROWS_OF_A_DAY = """
SELECT entity, metric, ts, value, NULL::text AS text FROM observations
WHERE feed = $1 AND ts >= $2 AND ts < $3
UNION ALL
SELECT entity, metric, ts, NULL::float8, value FROM states
WHERE feed = $1 AND ts >= $2 AND ts < $3
ORDER BY ts, entity, metric
"""


class ExportError(ValueError):
    """An export the command cannot make: the message says why."""


@dataclass(frozen=True, slots=True)
class DayExport:
    feed: str
    day: date
    rows: int
    entry: dict[str, Any]  # the catalogue's entry


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = day_start(day)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def check_exportable(feed: FeedDefinition) -> None:
    if not feed.public:
        raise ExportError(
            f"feed {feed.feed!r} is not public: mark it `public: true` in its feed.yaml to "
            "share it as open data"
        )


async def export_day(connection: Any, feed: FeedDefinition, day: date, folder: Path) -> DayExport:
    """Writes ``<folder>/<feed>/<day>.csv`` and ``.parquet`` and returns the catalogue entry
    (also written beside them as ``<day>.json``)."""
    check_exportable(feed)
    start, end = day_bounds(day)
    units = {metric.name: metric.unit for metric in feed.metrics}
    place = folder / feed.feed
    place.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = place / f"{day}.csv", place / f"{day}.parquet"
    rows = 0
    with _whole(csv_path, "w") as csv_file, _whole(parquet_path, "wb") as parquet_file:
        writer = csv.writer(csv_file, lineterminator="\n")
        writer.writerow(COLUMNS)
        with pq.ParquetWriter(parquet_file, SCHEMA, compression="zstd") as parquet:
            async for chunk in _chunks(connection, feed.feed, start, end):
                table = _rows(chunk, units)
                for row in table:
                    writer.writerow(_csv_row(row))
                columns = [[row[i] for row in table] for i in range(len(COLUMNS))]
                parquet.write_table(pa.Table.from_arrays(columns, schema=SCHEMA))
                rows += len(table)
    entry = {
        "feed": feed.feed,
        "title": feed.title,
        "agency": feed.agency,
        "period": {"day": day.isoformat(), "zone": ZONE.key, "from": _iso(start), "to": _iso(end)},
        "rows": rows,
        "columns": [
            {"name": "entity", "type": "string", "description": "the feed's entity id"},
            {"name": "metric", "type": "string", "description": "the data dictionary's metric"},
            {"name": "ts", "type": "timestamp (UTC)", "description": "event time"},
            {"name": "value", "type": "number", "description": "a numeric reading, in unit"},
            {"name": "text", "type": "string", "description": "a state, where not a number"},
            {"name": "unit", "type": "string", "description": "the metric's unit"},
        ],
        "units": units,
        "files": {
            "csv": _file(csv_path, folder),
            "parquet": _file(parquet_path, folder),
        },
    }
    with _whole(place / f"{day}.json", "w") as sidecar:
        json.dump(entry, sidecar, ensure_ascii=False, indent=2, sort_keys=True)
    return DayExport(feed.feed, day, rows, entry)


Progress = Callable[[int, int, int], None]  # days done, days in all, rows so far


async def export_days(
    connection: Any,
    feed: FeedDefinition,
    first: date,
    last: date,
    folder: Path,
    public: Iterable[str],
    progress: Progress,
) -> list[DayExport]:
    """Every day from ``first`` to ``last`` (inclusive), then the catalogue. Which days may be
    asked for (not backwards, none still to come) is ``days.export_days_at``'s to say."""
    check_exportable(feed)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    done: list[DayExport] = []
    for day in days:
        done.append(await export_day(connection, feed, day, folder))
        progress(len(done), len(days), sum(d.rows for d in done))
    write_catalogue(folder, public)
    return done


def write_catalogue(folder: Path, public: Iterable[str]) -> dict[str, Any]:
    """The folder's catalogue: every exported day of the public feeds, from their entries."""
    shown = set(public)
    entries = [
        json.loads(sidecar.read_text(encoding="utf-8"))
        for sidecar in sorted(folder.glob("*/*.json"))
        if sidecar.parent.name in shown
    ]
    catalogue = {"datasets": entries}
    with _whole(folder / CATALOGUE, "w") as out:
        json.dump(catalogue, out, ensure_ascii=False, indent=2, sort_keys=True)
    return catalogue


async def _chunks(
    connection: Any, feed: str, start: datetime, end: datetime
) -> AsyncIterator[list[Any]]:
    async with connection.transaction():  # a cursor lives in a transaction
        cursor = await connection.cursor(ROWS_OF_A_DAY, feed, start, end)
        while chunk := await cursor.fetch(CHUNK):
            yield chunk


def _rows(records: list[Any], units: dict[str, str]) -> list[tuple[Any, ...]]:
    return [
        (r["entity"], r["metric"], r["ts"], r["value"], r["text"], units.get(r["metric"], ""))
        for r in records
    ]


def _csv_row(row: tuple[Any, ...]) -> list[str]:
    entity, metric, ts, value, text, unit = row
    return [entity, metric, _iso(ts), "" if value is None else repr(value), text or "", unit]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _file(path: Path, folder: Path) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "path": path.relative_to(folder).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": digest,
    }


class _whole:
    """A file written beside its place and renamed into it on success: never seen half-written."""

    def __init__(self, path: Path, mode: str) -> None:
        self.path, self.mode = path, mode
        self.partial = path.with_name(f".{path.name}.partial")

    def __enter__(self) -> Any:
        text = "b" not in self.mode
        self.file: IO[Any] = open(
            self.partial,
            self.mode,
            encoding="utf-8" if text else None,
            newline="" if text else None,
        )
        return self.file

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.file.close()
        if kind is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)
