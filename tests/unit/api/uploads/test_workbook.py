"""An .xlsx is measured before calamine reads it: calamine holds a sheet as a grid from its first
used cell to its last, so two cells far apart in a 2 KB file would ask for gigabytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from services.api.uploads.workbook import MAX_CELLS, Unreadable, sheets_of

SAMPLE = Path(__file__).parents[3] / "fixtures" / "bao-cao-ho-so-mau.xlsx"


def corner_cells(last: str) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Ngày"
    sheet[last] = 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("last", ["XFD1048576", "E1048576", "ZZ100000"])
def test_a_sheet_spanning_too_many_cells_is_refused_before_it_is_read(last: str) -> None:
    content = corner_cells(last)
    assert len(content) < 10_000
    with pytest.raises(Unreadable, match=f"more than {MAX_CELLS:,} cells"):
        next(sheets_of(content, "xlsx"))


def test_a_ward_report_is_read_as_ever() -> None:
    [sheet] = list(sheets_of(SAMPLE.read_bytes(), "xlsx"))
    assert sheet.name == "Biểu 01"
    assert sum(1 for _ in sheet.rows) >= 11
