"""Every feed's spreadsheet template, opened as a clerk's Excel would open it (openpyxl): its
header row, its drop-down lists, its formats, its example row and its instructions."""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from services.api.feed_templates.endpoints import first_example
from services.api.feed_templates.workbook import (
    DATA_SHEET,
    GUIDE_SHEET,
    LISTS_SHEET,
    example_row,
    template,
)
from services.api.uploads.wording import Language
from services.common.feed_fields import FeedField, fields_of
from services.common.feeds import FeedDefinition, load_feed
from tests.conftest import SCHEMAS_DIR

FEEDS = sorted(path.parent.name for path in (SCHEMAS_DIR / "feeds").glob("*/feed.yaml"))


def _open(feed: FeedDefinition, lang: Language = "vi") -> Workbook:
    return load_workbook(io.BytesIO(template(feed, first_example(feed), lang)))


def _data(book: Workbook) -> Worksheet:
    sheet = book[DATA_SHEET]
    assert isinstance(sheet, Worksheet)
    return sheet


def _validations(sheet: Worksheet) -> dict[str, tuple[str, str | None]]:
    """Each validated range's first cell -> (type, first formula)."""
    return {
        str(rule.sqref).split(":")[0]: (str(rule.type), rule.formula1)
        for rule in sheet.data_validations.dataValidation
    }


@pytest.mark.parametrize("name", FEEDS)
def test_the_header_row_titles_every_field_and_names_its_path(
    feeds: dict[str, FeedDefinition], name: str
) -> None:
    fields = fields_of(feeds[name])
    sheet = _data(_open(feeds[name]))
    assert book_order(_open(feeds[name])) == [DATA_SHEET, GUIDE_SHEET]
    headers = [cell.value for cell in sheet[1]]
    assert headers == [field.title for field in fields]
    for cell, field in zip(sheet[1], fields, strict=True):
        assert cell.comment is not None
        assert cell.comment.text.splitlines()[0] == field.path
    assert sheet.freeze_panes == "A2"


def book_order(book: Workbook) -> list[str]:
    return [sheet.title for sheet in book.worksheets if sheet.sheet_state == "visible"]


@pytest.mark.parametrize("name", FEEDS)
def test_an_enumeration_is_a_drop_down_list_of_its_values_over_every_row(
    feeds: dict[str, FeedDefinition], name: str
) -> None:
    fields = fields_of(feeds[name])
    rules = _validations(_data(_open(feeds[name])))
    for column, field in enumerate(fields, start=1):
        letter = chr(ord("A") + column - 1)
        if field.enum is not None:
            assert rules[f"{letter}2"] == ("list", '"' + ",".join(map(str, field.enum)) + '"')
        elif f"{letter}2" in rules:
            assert rules[f"{letter}2"][0] in ("whole", "decimal")  # a field's bounds
    for rule in _data(_open(feeds[name])).data_validations.dataValidation:
        assert str(rule.sqref).endswith("1048576")  # every row a clerk may fill


def test_the_feeds_with_enumerations_have_their_lists(feeds: dict[str, FeedDefinition]) -> None:
    rules = _validations(_data(_open(feeds["citizen-feedback"])))
    assert rules["D2"] == ("list", '"da_tiep_nhan,dang_xu_ly,da_xu_ly"')
    rules = _validations(_data(_open(feeds["programme-tasks"])))
    assert rules["E2"] == ("list", '"hoan_thanh,dang_thuc_hien,qua_han,chua_thuc_hien"')
    assert rules["C2"] == ("whole", "2000")  # the plan year, 2000 to 2100


@pytest.mark.parametrize("name", FEEDS)
def test_the_example_row_holds_the_first_example_as_a_clerk_types_it(
    feeds: dict[str, FeedDefinition], name: str
) -> None:
    feed = feeds[name]
    fields = fields_of(feed)
    sheet = _data(_open(feed))
    row = example_row(fields, first_example(feed))
    assert sheet.max_row == 2
    for column, field in enumerate(fields, start=1):
        cell = sheet.cell(2, column)
        if field.path not in row:
            assert cell.value is None
        elif field.time_format is not None:
            assert cell.is_date
            assert cell.number_format.startswith("dd/mm/yyyy")
        elif field.type == "integer":
            assert (cell.value, cell.number_format) == (row[field.path], "0")
        elif field.type == "number" or field.decimal_comma:
            assert isinstance(cell.value, int | float)
            assert float(cell.value) == _number(row[field.path])
        elif field.type == "string":
            # Text, formatted as text: a code typed as a number stays the code.
            assert (cell.value, cell.number_format) == (str(row[field.path]), "@")
    assert _column_format(sheet, fields)


def _number(value: Any) -> float:
    return float(str(value).replace(",", "."))


def _column_format(sheet: Worksheet, fields: tuple[FeedField, ...]) -> bool:
    """The empty rows below take each column's format: text for codes."""
    for column, field in enumerate(fields, start=1):
        letter = chr(ord("A") + column - 1)
        if field.type == "string" and field.time_format is None and not field.decimal_comma:
            assert sheet.column_dimensions[letter].number_format == "@", field.path
    return True


def test_the_dossiers_example_reads_as_its_message(feeds: dict[str, FeedDefinition]) -> None:
    sheet = _data(_open(feeds["admin-dossiers"]))
    assert [cell.value for cell in sheet[2]] == [
        datetime(2026, 11, 23),
        "32002",
        "Phường An Xuyên",
        134,
        122,
        118,
        4,
        12,
    ]
    assert sheet["A2"].number_format == "dd/mm/yyyy"


def test_a_local_time_and_a_decimal_comma_become_a_date_cell_and_a_number(
    feeds: dict[str, FeedDefinition],
) -> None:
    sheet = _data(_open(feeds["salinity"]))
    row = {str(sheet.cell(1, c).value): sheet.cell(2, c).value for c in range(1, 9)}
    assert row["Thời gian"] == datetime(2026, 11, 25, 6, 0)  # "25/11/2026 06:00"
    assert row["Độ mặn (‰)"] == 9.2  # "9,2"
    air = _data(_open(feeds["air-quality"]))
    assert air["B2"].value == datetime(2026, 11, 25, 6, 0)  # 06:00+07:00, in the province's time


def test_a_message_with_a_list_gives_a_row_of_its_first_element(
    feeds: dict[str, FeedDefinition],
) -> None:
    # A row is one message, a list in it one element, as the upload reads it.
    sheet = _data(_open(feeds["traffic"]))
    assert list(sheet.iter_rows(min_row=2, values_only=True)) == [
        ("CAM-NTT-012", "Nguyễn Tất Thành", datetime(2026, 11, 25, 6, 0), 300, 1, 81, 20.6)
    ]


@pytest.mark.parametrize("name", FEEDS)
def test_the_instructions_give_cadence_deadline_units_bounds_and_every_field(
    feeds: dict[str, FeedDefinition], name: str
) -> None:
    feed = feeds[name]
    guide = _open(feed)[GUIDE_SHEET]
    text = [[str(v) for v in row if v is not None] for row in guide.iter_rows(values_only=True)]
    flat = "\n".join(" | ".join(row) for row in text)
    assert f"{feed.title} ({feed.feed})" in flat
    assert "Tần suất báo cáo" in flat
    for field in fields_of(feed):
        listed = next(row for row in text if field.path in row)
        assert field.title in listed
        if field.unit and field.unit != "count":
            assert field.unit in listed


def test_the_deadline_and_cadence_read_as_words(feeds: dict[str, FeedDefinition]) -> None:
    flat = _guide_text(_open(feeds["admin-dossiers"]))
    assert "1 ngày một lần" in flat
    assert "Hạn gửi: trước 17:00 hằng ngày (giờ Việt Nam)" in flat
    assert "từ 0 đến 1000000" in flat  # a count's bounds
    flat = _guide_text(_open(feeds["salinity"]))
    assert "15 phút một lần" in flat
    assert "Không có giờ hạn cố định" in flat
    assert "‰ | từ 0 đến 60" in flat  # salinity's unit and bounds, from feed.yaml
    named = template(feeds["salinity"], first_example(feeds["salinity"]), "vi", "Sở NN và MT")
    assert "Đơn vị quản lý | Sở NN và MT (snnmt)" in _guide_text(load_workbook(io.BytesIO(named)))
    english = _guide_text(_open(feeds["admin-dossiers"], "en"))
    assert "How to fill in the template" in english
    assert "Due before 17:00 each day (Vietnam time)" in english
    assert "Số hồ sơ tiếp nhận" in english  # the titles stay the headers the upload reads


def _guide_text(book: Workbook) -> str:
    rows = book[GUIDE_SHEET].iter_rows(values_only=True)
    return "\n".join(" | ".join(str(v) for v in row if v is not None) for row in rows)


def test_an_enumeration_too_long_for_an_inline_list_is_listed_on_a_hidden_sheet(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "citizen-feedback"
    shutil.copytree(SCHEMAS_DIR / "feeds" / "citizen-feedback", folder)
    schema = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    many = [f"trang_thai_so_{n:03d}" for n in range(40)]  # well past 255 characters
    schema["properties"]["trang_thai"]["enum"] = ["da_tiep_nhan", *many]
    (folder / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    feed = load_feed(folder)
    book = _open(feed)
    assert _validations(_data(book))["D2"] == ("list", f"'{LISTS_SHEET}'!$A$1:$A$41")
    lists = book[LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    assert [row[0] for row in lists.iter_rows(values_only=True)] == ["da_tiep_nhan", *many]
