from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from services.api.uploads.cells import CellProblem, cell_value
from services.common.feed_fields import FeedField, fields_of
from services.common.feeds import FeedDefinition


def _field(feeds: dict[str, FeedDefinition], feed: str, path: str) -> FeedField:
    return next(field for field in fields_of(feeds[feed]) if field.path == path)


@pytest.mark.parametrize(
    ("feed", "path", "cell", "value"),
    [
        # a date: a real date cell, the feed's own format, or dd/mm/yyyy, in the province's time
        ("admin-dossiers", "ngay", datetime(2026, 12, 1), "2026-12-01"),
        ("admin-dossiers", "ngay", date(2026, 12, 1), "2026-12-01"),
        ("admin-dossiers", "ngay", "01/12/2026", "2026-12-01"),
        ("admin-dossiers", "ngay", " 2026-12-01 ", "2026-12-01"),
        ("salinity", "thoi_gian", datetime(2026, 11, 25, 6, 15), "25/11/2026 06:15"),
        ("salinity", "thoi_gian", "25/11/2026 06:15", "25/11/2026 06:15"),
        ("hospital-beds", "thoi_diem", datetime(2026, 11, 25, 6), "2026-11-25T06:00:00+07:00"),
        ("hospital-beds", "thoi_diem", "25/11/2026 06:00", "2026-11-25T06:00:00+07:00"),
        ("hospital-beds", "thoi_diem", "2026-11-25T06:00:00Z", "2026-11-25T06:00:00Z"),
        ("hospital-beds", "thoi_diem", "2026-11-25T06:00:00", "2026-11-25T06:00:00+07:00"),
        ("citizen-feedback", "thoi_gian", "25/11/2026 06:37", "2026-11-25 06:37:00"),
        ("traffic", "epoch_ms", datetime(2026, 11, 25, 7), 1795564800000),
        ("traffic", "epoch_ms", 1795561200000.0, 1795561200000),
        # a code typed as a number is the code
        ("admin-dossiers", "don_vi.ma", 32150.0, "32150"),
        ("admin-dossiers", "don_vi.ma", 32150, "32150"),
        # integers from whole number cells, or text
        ("admin-dossiers", "ho_so.tiep_nhan", 141.0, 141),
        ("admin-dossiers", "ho_so.tiep_nhan", "6", 6),
        ("admin-dossiers", "ho_so.tiep_nhan", "1.234,0", 1234),
        # numbers: cells, or text with a decimal comma
        ("air-quality", "pm25_ugm3", 22.4, 22.4),
        ("air-quality", "pm25_ugm3", "8,5", 8.5),
        ("air-quality", "pm25_ugm3", "1.234,5", 1234.5),
        ("air-quality", "pm25_ugm3", "1,234.5", 1234.5),
        ("air-quality", "vn_aqi", 47, 47),
        # a number for a field holding a decimal comma as text
        ("salinity", "do_man_phan_nghin", 8.5, "8,5"),
        ("salinity", "do_man_phan_nghin", 9.0, "9"),
        ("salinity", "do_man_phan_nghin", "N/A", "N/A"),
        # a yyyy-mm-dd field typed dd/mm/yyyy, or a date cell
        ("citizen-feedback", "han_xu_ly", "30/11/2026", "2026-11-30"),
        ("citizen-feedback", "han_xu_ly", datetime(2026, 11, 30), "2026-11-30"),
        # a choice, whatever its case
        ("citizen-feedback", "trang_thai", "DA_XU_LY", "da_xu_ly"),
    ],
)
def test_cells_as_clerks_type_them(
    feeds: dict[str, FeedDefinition], feed: str, path: str, cell: Any, value: Any
) -> None:
    converted = cell_value(_field(feeds, feed, path), cell)
    assert converted == value
    assert type(converted) is type(value)


@pytest.mark.parametrize(
    ("feed", "path", "cell", "code"),
    [
        ("admin-dossiers", "ho_so.tiep_nhan", 8.5, "not_whole"),
        ("traffic", "lanes[].lane", 1e25, "out_of_range"),
        ("admin-dossiers", "ho_so.tiep_nhan", "mười", "not_a_number"),
        ("admin-dossiers", "ho_so.tiep_nhan", True, "not_a_number"),
        ("admin-dossiers", "ho_so.tiep_nhan", date(2026, 1, 1), "not_a_number"),
        ("air-quality", "pm25_ugm3", "1,2,3", "not_a_number"),
        ("admin-dossiers", "ngay", "32/12/2026", "not_a_date"),
        ("admin-dossiers", "ngay", 46000.0, "not_a_date"),
        ("admin-dossiers", "don_vi.ma", True, "not_text"),
        ("citizen-feedback", "trang_thai", "xong", "not_a_choice"),
        ("traffic", "epoch_ms", 1.5, "not_whole"),
    ],
)
def test_cells_that_cannot_be_the_value_name_their_problem(
    feeds: dict[str, FeedDefinition], feed: str, path: str, cell: Any, code: str
) -> None:
    with pytest.raises(CellProblem) as raised:
        cell_value(_field(feeds, feed, path), cell)
    assert raised.value.problem.code == code
    # worded in both languages, the value named
    problem = raised.value.problem
    assert problem.worded("vi") != problem.worded("en")
