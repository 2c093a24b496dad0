"""An uploaded file's sheets, row by row: ``.xlsx`` and ``.xls`` through python-calamine (which
reads both), ``.csv`` as UTF-8 (with or without a BOM), separated by commas or semicolons (what
Excel writes where the decimal mark is a comma).

calamine holds a whole sheet as a grid from its first used cell to its last: a 2 KB ``.xlsx``
with cells at A1 and XFD1048576 asks for hundreds of gigabytes. So a workbook is measured
first, and one whose sheets span more than ``MAX_CELLS`` is refused before calamine reads it:
an ``.xlsx`` unzipped in chunks (its size bounded too: a zip bomb), an ``.xls`` by walking the
cell records of its workbook stream (a 5 KB ``.xls`` with cells at A1 and IV65536 would
otherwise ask for about half a gigabyte; it holds nothing compressed, so its stream is no
larger than the file)."""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
from collections.abc import Iterator
from typing import Literal

import olefile
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
# BIFF (the .xls format) records: a substream (a sheet) opens with BOF and closes with EOF; a
# cell's record starts with its row and column; MULRK and MULBLANK (several cells of a row) end
# with their last column.
_BOF, _EOF = 0x0809, 0x000A
_CELL_RECORDS = frozenset({0x0006, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6})
_ROW_RECORDS = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK


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
    if kind == "xls":
        _measure_xls(content)
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
                _too_wide(*_span(archive, member))


def _too_wide(rows: int, columns: int) -> None:
    if rows * columns > MAX_CELLS:
        raise Unreadable(
            f"a sheet spans {rows:,} rows and {columns:,} columns, more than"
            f" {MAX_CELLS:,} cells: delete the stray cells far below or right of the table"
        )


def _measure_xls(content: bytes) -> None:
    """Refuses an .xls whose sheets span more than ``MAX_CELLS``, counted from A1 to the last
    cell any cell record names, as for an .xlsx."""
    try:
        # a file object: given bytes shorter than 1,536, olefile would take them for a path
        with olefile.OleFileIO(io.BytesIO(content)) as compound:
            # "Workbook" (Excel 97 and later), or "Book" (Excel 5 and 95)
            name = next((n for n in ("Workbook", "Book") if compound.exists(n)), None)
            if name is None:
                raise Unreadable("no workbook in the file")
            stream: bytes = compound.openstream(name).read()
    except (OSError, ValueError, struct.error, IndexError, EOFError) as error:
        raise Unreadable(_reason(error)) from None
    rows = columns = 0
    at = 0
    while at + 4 <= len(stream):
        record, length = struct.unpack_from("<HH", stream, at)
        body, at = at + 4, at + 4 + length
        if record == _BOF:
            rows = columns = 0
        elif record == _EOF:
            _too_wide(rows, columns)
        elif (record in _CELL_RECORDS or record in _ROW_RECORDS) and length >= 6:
            row, column = struct.unpack_from("<HH", stream, body)
            if record in _ROW_RECORDS and at <= len(stream):
                (column,) = struct.unpack_from("<H", stream, at - 2)
            rows, columns = max(rows, row + 1), max(columns, column + 1)
    _too_wide(rows, columns)  # a stream cut short ends without its EOF


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
