"""Workbooks as a clerk fills them, written by openpyxl with typed cells."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

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
