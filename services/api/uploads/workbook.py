"""An uploaded file's sheets, row by row: ``.xlsx`` and ``.xls`` through python-calamine (which
reads both), ``.csv`` as UTF-8 (with or without a BOM), separated by commas or semicolons (what
Excel writes where the decimal mark is a comma).

calamine holds a whole sheet as a grid from its first used cell to its last: a 2 KB ``.xlsx``
with cells at A1 and XFD1048576 asks for hundreds of gigabytes. So an ``.xlsx`` is measured first,
unzipped in chunks (its size bounded too: a zip bomb), and one whose sheets span more than
``MAX_CELLS`` is refused before calamine reads it. (An ``.xls`` is not measured: its format
stops at 65,536 rows and 256 columns, about half a gigabyte of grid at worst.)"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from typing import Literal

from python_calamine import CalamineError, CalamineWorkbook

from services.api.uploads.table import SheetRows

FileKind = Literal["xlsx", "xls", "csv"]
KINDS_BY_EXTENSION: dict[str, FileKind] = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".csv": "csv",
}
KINDS_BY_MEDIA_TYPE: dict[str, FileKind] = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel": "xls",
    "text/csv": "csv",
}
_ZIP = b"PK\x03\x04"  # an .xlsx is a zip archive
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an .xls is an OLE2 compound file
SNIFFED_LINES = 20
MAX_CELLS = 5_000_000  # a sheet's span, rows times columns: 100,000 rows of 50 columns
MAX_UNZIPPED = 256 * 1024 * 1024  # what an .xlsx may unzip to, all its parts together
_CELL = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_CHUNK = 1024 * 1024


class Unreadable(ValueError):
    """The file is not what its kind says; the text says why, in English (wording.py words it)."""


def kind_of(filename: str | None, media_type: str | None, content: bytes) -> FileKind | None:
    """The file's kind by its name, else its declared media type, else its first bytes."""
    name = (filename or "").lower()
    for extension, kind in KINDS_BY_EXTENSION.items():
        if name.endswith(extension):
            return kind
    declared = KINDS_BY_MEDIA_TYPE.get((media_type or "").split(";")[0].strip().lower())
    if declared is not None:
        return declared
    if content.startswith(_ZIP):
        return "xlsx"
    if content.startswith(_OLE2):
        return "xls"
    return None


def sheets_of(content: bytes, kind: FileKind) -> Iterator[SheetRows]:
    if kind == "csv":
        yield _csv(content)
        return
    if kind == "xlsx":
        _measure_xlsx(content)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except (CalamineError, ValueError, OSError) as error:
        raise Unreadable(_reason(error)) from None
    for name in workbook.sheet_names:
        try:
            sheet = workbook.get_sheet_by_name(name)
        except (CalamineError, ValueError) as error:
            raise Unreadable(f"sheet {name!r}: {_reason(error)}") from None
        if sheet.start is None:
            continue  # an empty sheet
        # Rows come from the sheet's first row, cells from its first used column.
        yield SheetRows(name, enumerate(sheet.iter_rows(), start=1), first_column=sheet.start[1])


def _measure_xlsx(content: bytes) -> None:
    """Refuses an .xlsx that unzips too large or whose sheets span more than ``MAX_CELLS``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError) as error:
        raise Unreadable(_reason(error)) from None
    with archive:
        members = archive.infolist()
        if sum(member.file_size for member in members) > MAX_UNZIPPED:
            raise Unreadable(f"the workbook unzips to more than {MAX_UNZIPPED // 2**20} MiB")
        for member in members:
            if member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml"):
                rows, columns = _span(archive, member)
                if rows * columns > MAX_CELLS:
                    raise Unreadable(
                        f"a sheet spans {rows:,} rows and {columns:,} columns, more than"
                        f" {MAX_CELLS:,} cells: delete the stray cells far below or right of"
                        " the table"
                    )


def _span(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[int, int]:
    """The last row and column any cell of the sheet names, read in chunks."""
    rows = columns = 0
    tail = b""
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                text = tail + chunk
                for found in _CELL.finditer(text):
                    rows = max(rows, int(found.group(2)))
                    columns = max(columns, _column_number(found.group(1)))
                tail = text[-256:]  # a cell tag cut by the chunk's end is read whole next time
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise Unreadable(_reason(error)) from None
    return rows, columns


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


def _csv(content: bytes) -> SheetRows:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    head = text.splitlines()[:SNIFFED_LINES]
    delimiter = (
        ";"
        if sum(line.count(";") for line in head) > sum(line.count(",") for line in head)
        else ","
    )
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return SheetRows("csv", _csv_rows(rows))


def _csv_rows(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from enumerate(rows, start=1)
    except csv.Error as error:
        raise Unreadable(f"CSV: {error}") from None


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else error.__class__.__name__
