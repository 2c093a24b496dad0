"""Workbooks as a clerk fills them, written by openpyxl with typed cells."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import xlwt
from openpyxl import Workbook

HEADER = [
    "STT",
    "Ngày",
    "Mã đơn vị",
    "Tên đơn vị",
    "Số hồ sơ tiếp nhận",
    "Đã giải quyết",
    "Giải quyết đúng hạn",
    "Giải quyết trễ hạn",
    "Đang xử lý",
    "Ghi chú",
]


def dossier_row(number: int, day: int, code: int, received: Any = 100) -> list[Any]:
    """A data row: a real date cell, a code typed as a number, number cells."""
    return [
        number,
        datetime(2026, 12, day),
        float(code),
        "Phường An Xuyên",
        received,
        90,
        85,
        5,
        10,
    ]


def ward_report(rows: list[list[Any]], *, title_rows: bool = True) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Biểu 01"
    if title_rows:
        sheet.append(
            ["UBND PHƯỜNG AN XUYÊN", None, None, None, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"]
        )
        sheet.merge_cells("E1:I1")
        sheet.append([None, None, None, None, "Độc lập - Tự do - Hạnh phúc"])
        sheet.append([])
        sheet.append(["BÁO CÁO TÌNH HÌNH TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ"])
        sheet.merge_cells("A4:I4")
    sheet.append(HEADER)
    first = sheet.max_row + 1
    for row in rows:
        sheet.append(row)
        sheet.cell(sheet.max_row, 2).number_format = "dd/mm/yyyy"
    last = sheet.max_row
    sheet.append([None, "Tổng cộng", None, None, f"=SUM(E{first}:E{last})"])
    sheet.append([])
    sheet.append([None, "Người lập biểu", None, None, None, None, "Chủ tịch UBND phường"])
    sheet.append([None, "Nguyễn Thị Lan", None, None, None, None, "Trần Văn Hùng"])
    for _ in range(3):
        sheet.append([None] * 5)  # empty trailing rows
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def ward_report_xls(rows: list[list[Any]]) -> bytes:
    """The same report as an .xls (Excel 97-2003), written by xlwt: date cells formatted as
    dates, codes and counts as number cells, a total row and a signature below."""
    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("Biểu 01")
    dates = xlwt.easyxf(num_format_str="dd/mm/yyyy")
    sheet.write_merge(0, 0, 0, 8, "BÁO CÁO TÌNH HÌNH TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ")
    for column, title in enumerate(HEADER):
        sheet.write(1, column, title)
    for number, row in enumerate(rows, start=2):
        for column, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write(number, column, value, dates)
            else:
                sheet.write(number, column, value)
    total = len(rows) + 2
    sheet.write(total, 1, "Tổng cộng")
    sheet.write(total, 4, xlwt.Formula(f"SUM(E3:E{total})"))
    sheet.write(total + 2, 1, "Người lập biểu")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def corner_cells_xls(row: int, column: int) -> bytes:
    """An .xls with a header cell at A1 and one number at (row, column), counted from 0."""
    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("Biểu 01")
    sheet.write(0, 0, "Ngày")
    sheet.write(row, column, 1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
