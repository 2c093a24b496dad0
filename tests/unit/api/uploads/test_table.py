from __future__ import annotations

from typing import Any

from services.api.uploads.table import (
    BadRow,
    DataRow,
    Ignored,
    Read,
    Rejected,
    SheetRows,
    column_letters,
    read_sheet,
)
from services.api.uploads.workbook import sheets_of
from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from tests.unit.api.uploads.workbooks import dossier_row, ward_report


def _read(feeds: dict[str, FeedDefinition], content: bytes, kind: Any = "xlsx") -> list[Read]:
    definition = feeds["admin-dossiers"]
    return [
        read
        for sheet in sheets_of(content, kind)
        for read in read_sheet(sheet, fields_of(definition), definition.feed)
    ]


def test_a_ward_report_gives_its_data_rows_numbered_as_the_sheet_shows_them(
    feeds: dict[str, FeedDefinition],
) -> None:
    content = ward_report(
        [
            dossier_row(1, 1, 32002, received=141),
            dossier_row(2, 2, 32002, received="mười"),  # the one bad row
            dossier_row(3, 3, 32002, received="97"),  # a count typed as text
        ]
    )
    reads = _read(feeds, content)
    data = [read for read in reads if isinstance(read, DataRow)]
    assert [read.row for read in data] == [6, 8]
    assert data[0].message == {
        "ngay": "2026-12-01",
        "don_vi": {"ma": "32002", "ten": "Phường An Xuyên"},
        "ho_so": {
            "tiep_nhan": 141,
            "da_giai_quyet": 90,
            "dung_han": 85,
            "tre_han": 5,
            "dang_xu_ly": 10,
        },
    }
    assert data[1].message["ho_so"]["tiep_nhan"] == 97
    bad = [read for read in reads if isinstance(read, BadRow)]
    assert [(b.row, [(p.column, p.problem) for p in b.problems]) for b in bad] == [
        (7, [("E", bad[0].problems[0].problem)])
    ]
    problem = bad[0].problems[0].problem
    assert not isinstance(problem, str)
    assert problem.worded("en") == "'mười' is not a number"
    assert problem.worded("vi") == "'mười' không phải là số"
    ignored = [(i.row, i.column, i.problem.code) for i in reads if isinstance(i, Ignored)]
    assert ignored == [
        (1, None, "above_header"),
        (2, None, "above_header"),
        (4, None, "above_header"),
        (None, "A", "row_number_column"),
        (None, "J", "unknown_column"),
        (9, None, "total_row"),
        (11, None, "below_table"),
        (12, None, "below_table"),
    ]


def _sheet(rows: list[Any], first_column: int = 0) -> SheetRows:
    return SheetRows("s", list(enumerate(rows, start=1)), first_column=first_column)


def _fields(feeds: dict[str, FeedDefinition]) -> Any:
    return fields_of(feeds["admin-dossiers"])


HEADER = ["ngay", "don_vi.ma", "Tiếp nhận", "Đã giải quyết", "Đúng hạn", "Trễ hạn", "Đang xử lý"]


def test_headers_by_dotted_path_title_or_alias_and_a_table_that_starts_at_column_c(
    feeds: dict[str, FeedDefinition],
) -> None:
    rows = [HEADER, ["2026-12-01", "32002", 1, 1, 1, 0, 0]]
    reads = list(read_sheet(_sheet(rows, first_column=2), _fields(feeds), "admin-dossiers"))
    assert len(reads) == 1
    assert isinstance(reads[0], DataRow)
    assert reads[0].columns["ngay"] == "C"
    assert reads[0].columns["ho_so.dang_xu_ly"] == "I"


def test_a_missing_required_column_refuses_the_sheet_once(
    feeds: dict[str, FeedDefinition],
) -> None:
    rows = [HEADER[:-1], ["2026-12-01", "32002", 1, 1, 1, 0]]
    reads = list(read_sheet(_sheet(rows), _fields(feeds), "admin-dossiers"))
    assert [(type(r).__name__, r.row) for r in reads] == [("Rejected", 1)]
    assert isinstance(reads[0], Rejected)
    assert not isinstance(reads[0].problem, str)
    assert reads[0].problem.worded("en") == (
        "no column for Đang xử lý (ho_so.dang_xu_ly), a required field"
    )


def test_no_header_a_repeated_column_an_empty_cell_and_a_row_of_notes(
    feeds: dict[str, FeedDefinition],
) -> None:
    fields = _fields(feeds)
    no_header = list(read_sheet(_sheet([["Hướng dẫn"], ["Điền mỗi dòng một ngày"]]), fields, "f"))
    assert [(type(r).__name__, r.row) for r in no_header] == [("Ignored", None)]
    rows = [
        [*HEADER, "Mã xã"],
        ["2026-12-01", "32002", 1, 1, 1, 0, None, "32002"],
        [None, "Ghi chú: số liệu tạm tính", None, None, None, None, None],
    ]
    reads = list(read_sheet(_sheet(rows), fields, "admin-dossiers"))
    assert [(type(r).__name__, r.row) for r in reads] == [
        ("Ignored", None),
        ("BadRow", 2),
        ("Ignored", 3),
    ]
    assert isinstance(reads[0], Ignored)
    assert reads[0].column == "H"
    assert reads[0].problem.code == "repeated_column"
    assert isinstance(reads[1], BadRow)
    assert [(p.column, p.problem.worded("vi")) for p in reads[1].problems] == [  # type: ignore[union-attr]
        ("G", "ô trống: cần có Đang xử lý")
    ]
    assert isinstance(reads[2], Ignored)
    assert reads[2].problem.code == "not_a_data_row"


def test_csv_with_a_bom_semicolons_and_decimal_commas(feeds: dict[str, FeedDefinition]) -> None:
    text = "Mã trạm;Thời gian;Độ mặn;Mực nước;Mã xã\r\nCM-SAL-01;25/11/2026 06:00;9,2;107;32150\r\n"
    definition = feeds["salinity"]
    [sheet] = sheets_of(b"\xef\xbb\xbf" + text.encode(), "csv")
    [read] = read_sheet(sheet, fields_of(definition), definition.feed)
    assert isinstance(read, DataRow)
    assert read.row == 2
    assert read.message == {
        "ma_tram": "CM-SAL-01",
        "thoi_gian": "25/11/2026 06:00",
        "do_man_phan_nghin": "9,2",
        "muc_nuoc_cm": 107.0,
        "xa_phuong_ma": "32150",
    }


def test_column_letters() -> None:
    assert [column_letters(i) for i in (0, 25, 26, 51, 52, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]


def test_a_header_on_two_rows_and_a_row_numbering_the_columns(
    feeds: dict[str, FeedDefinition],
) -> None:
    rows = [
        ["STT", "Ngày", "Mã đơn vị", "Số hồ sơ", None, None, None, None],
        [None, None, None, "Tiếp nhận", "Đã giải quyết", "Đúng hạn", "Trễ hạn", "Đang xử lý"],
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)", "(8)"],
        [1, "01/12/2026", 32002, 1, 1, 1, 0, 0],
    ]
    reads = list(read_sheet(_sheet(rows), _fields(feeds), "admin-dossiers"))
    assert [(type(r).__name__, r.row, getattr(r, "column", None)) for r in reads] == [
        ("Ignored", None, "A"),
        ("Ignored", 3, None),
        ("DataRow", 4, None),
    ]
    assert isinstance(reads[1], Ignored)
    assert reads[1].problem.code == "column_numbers"
    assert isinstance(reads[2], DataRow)
    assert reads[2].message["ho_so"] == {
        "tiep_nhan": 1,
        "da_giai_quyet": 1,
        "dung_han": 1,
        "tre_han": 0,
        "dang_xu_ly": 0,
    }


def test_a_first_data_row_is_not_taken_for_a_second_header_row_nor_for_column_numbers(
    feeds: dict[str, FeedDefinition],
) -> None:
    rows = [HEADER, ["2026-12-01", "32002", 1, 2, 3, 4, 5]]  # consecutive, but with a date
    [read] = read_sheet(_sheet(rows), _fields(feeds), "admin-dossiers")
    assert isinstance(read, DataRow)
    assert read.row == 2
