"""A workbook is measured before calamine reads it: calamine holds a sheet as a grid from its
first used cell to its last, so two cells far apart in a 2 KB file would ask for gigabytes (an
.xlsx) or half of one (an .xls)."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from services.api.uploads.workbook import MAX_CELLS, Unreadable, sheets_of
from tests.unit.api.uploads.workbooks import corner_cells_xls, dossier_row, ward_report_xls

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


@pytest.mark.parametrize(
    ("row", "column"),
    [(65_535, 255), (65_535, 80), (30_000, 200)],
    ids=["IV65536", "CC65536", "GS30001"],
)
def test_an_xls_spanning_too_many_cells_is_refused_before_it_is_read(row: int, column: int) -> None:
    content = corner_cells_xls(row, column)
    assert len(content) < 10_000
    with pytest.raises(Unreadable, match=f"more than {MAX_CELLS:,} cells"):
        next(sheets_of(content, "xls"))


def test_an_xls_within_the_cap_is_read_to_its_last_cell() -> None:
    [sheet] = list(sheets_of(corner_cells_xls(65_535, 9), "xls"))  # 655,360 cells
    assert sum(1 for _ in sheet.rows) == 65_536


def test_a_ward_report_as_an_xls_is_read_with_its_typed_cells() -> None:
    content = ward_report_xls([dossier_row(1, 1, 32002), dossier_row(2, 2, 32150)])
    [sheet] = list(sheets_of(content, "xls"))
    rows = [cells for _, cells in sheet.rows]
    assert rows[1][:3] == ["STT", "Ngày", "Mã đơn vị"]
    assert [row[1:3] for row in rows[2:4]] == [
        [datetime(2026, 12, 1).date(), 32002],
        [datetime(2026, 12, 2).date(), 32150],
    ]


@pytest.mark.parametrize("content", [b"", b"\xd0\xcf\x11\xe0 short", b"/etc/hostname"])
def test_what_is_not_a_compound_file_is_unreadable_as_an_xls(content: bytes) -> None:
    with pytest.raises(Unreadable):
        next(sheets_of(content, "xls"))
