"""A sheet's rows made the feed's messages, as a ward's report usually looks: pure, no I/O.

The header row is the first row (of the first ``HEADER_SEARCH_ROWS``) whose cells name at least
``MIN_HEADER_FIELDS`` fields of the feed, by dotted path, title or alias
(``services/common/feed_fields.py``); rows above it are titles and mottos; a header on two rows
(a merged group title over the columns it groups) is read as one. Each column under a
header naming a field is read into that field; a row number column (``STT``) and columns the feed
does not know (notes) are set aside, and so are empty rows, a row numbering the columns
(``(1) (2) (3)``) under the header, a total row (``Tổng cộng``) and
everything below it (signatures), and rows with too few fields filled to be figures. Whatever is
set aside is said in the receipt, with its reason; rows are numbered as the spreadsheet shows
them (the first row is 1).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.api.uploads.cells import CellProblem, cell_value, is_empty
from services.api.uploads.wording import Problem
from services.common.feed_fields import FeedField, header_key, named

HEADER_SEARCH_ROWS = 50
MIN_HEADER_FIELDS = 2
ROW_NUMBER_HEADERS = frozenset({"stt", "tt", "số tt", "số thứ tự", "no.", "no"})
_COLUMN_LABEL = re.compile(r"^\(?\s*(\d{1,2}|[A-Za-z])\s*\)?$")
TOTAL_WORDS = frozenset({"tổng cộng", "tổng", "cộng", "tổng số", "total", "grand total"})


@dataclass(frozen=True, slots=True)
class SheetRows:
    """A sheet as a reader gives it: rows numbered from 1, each row's cells from the column
    ``first_column`` (0 is A)."""

    name: str
    rows: Iterable[tuple[int, Sequence[Any]]]
    first_column: int = 0


@dataclass(frozen=True, slots=True)
class DataRow:
    sheet: str
    row: int
    message: dict[str, Any]
    columns: dict[str, str]  # field path -> its column's letters, to name a column in errors


@dataclass(frozen=True, slots=True)
class Rejected:
    sheet: str
    row: int | None
    column: str | None
    problem: Problem | str  # a cell's problem, or the intake's own reason (English)


@dataclass(frozen=True, slots=True)
class BadRow:
    sheet: str
    row: int
    problems: tuple[Rejected, ...]


@dataclass(frozen=True, slots=True)
class Ignored:
    sheet: str
    row: int | None
    column: str | None
    problem: Problem


Read = DataRow | BadRow | Rejected | Ignored


def column_letters(index: int) -> str:
    """0 is A, 25 is Z, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def read_sheet(sheet: SheetRows, fields: tuple[FeedField, ...], feed: str) -> Iterator[Read]:
    """Every data row of the sheet as a message (or the problems of its cells), and what was
    set aside, in the sheet's order."""
    by_name = named(fields)
    least = min(MIN_HEADER_FIELDS, len(fields))
    rows = iter(sheet.rows)
    above: list[int] = []
    for number, cells in rows:
        if number > HEADER_SEARCH_ROWS:
            break
        header = _header(cells, sheet.first_column, by_name)
        if len({field.path for field in header.values()}) >= least:
            yield from (Ignored(sheet.name, row, None, Problem("above_header")) for row in above)
            following = next(rows, None)
            if following is not None:
                cells, header, merged = _second_header_row(cells, header, following, sheet, by_name)
                if not merged:
                    rows = itertools.chain([following], rows)
            yield from _table(sheet, number, cells, header, rows, fields, feed)
            return
        if any(not is_empty(cell) for cell in cells):
            above.append(number)
    figures = {"rows": HEADER_SEARCH_ROWS, "least": least}
    yield Ignored(sheet.name, None, None, Problem("no_header", figures))


def _second_header_row(
    cells: Sequence[Any],
    header: dict[int, FeedField],
    following: tuple[int, Sequence[Any]],
    sheet: SheetRows,
    by_name: Mapping[str, FeedField],
) -> tuple[Sequence[Any], dict[int, FeedField], bool]:
    """A header on two rows (a merged group title, ``Số hồ sơ``, over ``Tiếp nhận``, ``Đã giải
    quyết``…): the row below names more fields, in columns the first row leaves unnamed. Returns
    the header's cells and fields, and whether the row below was part of it."""
    below = _header(following[1], sheet.first_column, by_name)
    paths = {field.path for field in header.values()}
    more = {i: f for i, f in below.items() if i not in header and f.path not in paths}
    if not more:
        return cells, header, False
    width = max(len(cells), len(following[1]))
    merged = []
    for offset in range(width):
        above = cells[offset] if offset < len(cells) else None
        under = following[1][offset] if offset < len(following[1]) else None
        named_below = sheet.first_column + offset in more
        merged.append(under if named_below or is_empty(above) else above)
    return merged, {**header, **more}, True


def _header(
    cells: Sequence[Any], first_column: int, by_name: Mapping[str, FeedField]
) -> dict[int, FeedField]:  # column index -> field
    header: dict[int, FeedField] = {}
    for offset, cell in enumerate(cells):
        if isinstance(cell, str) and (field := by_name.get(header_key(cell))) is not None:
            header[first_column + offset] = field
    return header


def _table(
    sheet: SheetRows,
    header_row: int,
    header_cells: Sequence[Any],
    header: dict[int, FeedField],
    rows: Iterator[tuple[int, Sequence[Any]]],
    fields: tuple[FeedField, ...],
    feed: str,
) -> Iterator[Read]:
    columns: dict[int, FeedField] = {}  # the first column of each field
    first_of: dict[str, int] = {}
    for offset, cell in enumerate(header_cells):
        index = sheet.first_column + offset
        letters = column_letters(index)
        if is_empty(cell):
            continue
        text = str(cell).strip()
        field = header.get(index)
        if field is None:
            code = "row_number_column" if header_key(text) in ROW_NUMBER_HEADERS else None
            problem = Problem(code or "unknown_column", {"header": text, "feed": feed})
            yield Ignored(sheet.name, None, letters, problem)
        elif field.path in first_of:
            first = column_letters(first_of[field.path])
            repeated = {"header": text, "path": field.path, "first": first}
            yield Ignored(sheet.name, None, letters, Problem("repeated_column", repeated))
        else:
            columns[index] = field
            first_of[field.path] = index
    missing = [field for field in fields if field.required and field.path not in first_of]
    if missing:
        for field in missing:
            named_by = {"title": field.title, "path": field.path}
            yield Rejected(sheet.name, header_row, None, Problem("missing_column", named_by))
        return
    letters_of = {field.path: column_letters(index) for index, field in columns.items()}
    # Each field's column, compiled once: where its cell is in a row, and where it goes.
    compiled = tuple(
        _Column(index - sheet.first_column, field, letters_of[field.path], _parts(field.path))
        for index, field in columns.items()
    )
    required = sum(1 for field in columns.values() if field.required)
    least_filled = max(math.ceil(required / 2), 1)
    ended = False  # past a total row: signatures and notes
    under_header = True
    for number, cells in rows:
        if all(is_empty(cell) for cell in cells):
            continue
        if under_header and _numbers_columns(cells):
            under_header = False
            yield Ignored(sheet.name, number, None, Problem("column_numbers"))
            continue
        under_header = False
        if ended:
            yield Ignored(sheet.name, number, None, Problem("below_table"))
            continue
        if any(_is_total(cell) for cell in cells if type(cell) is str):
            ended = True
            yield Ignored(sheet.name, number, None, Problem("total_row"))
            continue
        width = len(cells)
        values = [cells[c.offset] if 0 <= c.offset < width else None for c in compiled]
        filled = sum(
            1
            for c, cell in zip(compiled, values, strict=True)
            if c.field.required and not is_empty(cell)
        )
        if filled < least_filled:
            figures = {"filled": filled, "required": required}
            yield Ignored(sheet.name, number, None, Problem("not_a_data_row", figures))
            continue
        yield _row(sheet.name, number, compiled, values, letters_of)


@dataclass(frozen=True, slots=True)
class _Column:
    offset: int  # of its cell in a row
    field: FeedField
    letters: str
    parts: tuple[tuple[str, bool], ...]  # the path's names, each with whether it is a list


def _parts(path: str) -> tuple[tuple[str, bool], ...]:
    return tuple((part.removesuffix("[]"), part.endswith("[]")) for part in path.split("."))


def _numbers_columns(cells: Sequence[Any]) -> bool:
    """A row under the header numbering the columns, as forms do: ``(1) (2) (3)``, ``A B 1 2
    3``: at least three consecutive numbers, and nothing else but single letters."""
    numbers = []
    for cell in cells:
        if is_empty(cell):
            continue
        if isinstance(cell, float | int) and not isinstance(cell, bool):
            if not float(cell).is_integer():
                return False
            numbers.append(int(cell))
            continue
        if not isinstance(cell, str) or (label := _COLUMN_LABEL.match(cell.strip())) is None:
            return False
        if label.group(1).isdigit():
            numbers.append(int(label.group(1)))
    return len(numbers) >= 3 and all(b == a + 1 for a, b in itertools.pairwise(numbers))


def _is_total(cell: str) -> bool:
    if len(cell) > 30:
        return False
    return header_key(cell).rstrip(":") in TOTAL_WORDS


def _row(
    sheet: str,
    number: int,
    columns: tuple[_Column, ...],
    values: list[Any],
    letters_of: dict[str, str],
) -> DataRow | BadRow:
    message: dict[str, Any] = {}
    problems = []
    for column, cell in zip(columns, values, strict=True):
        if is_empty(cell):
            if column.field.required:
                problem = Problem("empty_required", {"title": column.field.title})
                problems.append(Rejected(sheet, number, column.letters, problem))
            continue
        try:
            _put(message, column.parts, cell_value(column.field, cell))
        except CellProblem as bad:
            problems.append(Rejected(sheet, number, column.letters, bad.problem))
    if problems:
        return BadRow(sheet, number, tuple(problems))
    return DataRow(sheet, number, message, letters_of)


def _put(message: dict[str, Any], parts: tuple[tuple[str, bool], ...], value: Any) -> None:
    """Sets a dotted path; ``lanes[].vehicles`` is the vehicles of the list's one element."""
    target = message
    for name, is_list in parts[:-1]:
        target = target.setdefault(name, [{}])[0] if is_list else target.setdefault(name, {})
    target[parts[-1][0]] = value
