"""A feed's spreadsheet template, made from its definition alone: a new feed folder gets its
template with no code.

The first sheet (``Số liệu``) is what a clerk fills: one header row, each column titled by its
field's Vietnamese title (a header the upload reader knows, ``services/common/feed_fields.py``),
its dotted path, type, unit and bounds in the header cell's comment; the first data row is row 2,
as the upload's receipt numbers rows, and holds the feed's first example to be overwritten (a
row is one message, as the upload reads it).
Columns are formatted as the upload reads them: the feed's time as a date cell (``dd/mm/yyyy``),
counts as whole numbers, decimals as numbers, codes as text (``32150`` stays ``"32150"``); an
enumeration is a drop-down list, bounds a warning. The second sheet (``Hướng dẫn``) says what to
send when: the cadence, the deadline, and each column's unit, bounds and accepted names.

Pure: a definition and an example message in, the workbook's bytes out."""

from __future__ import annotations

import datetime
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from services.api.uploads.wording import Language
from services.common.feed_fields import FeedField, fields_of
from services.common.feeds import FeedDefinition
from services.common.province import ZONE

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATA_SHEET = "Số liệu"
GUIDE_SHEET = "Hướng dẫn"
LISTS_SHEET = "Danh mục"  # hidden; enumerations too long for an inline list
HEADER_ROW = 1
FIRST_ROW = 2  # the upload numbers rows as the spreadsheet shows them
LAST_ROW = 1_048_576  # Excel's last row: validation covers every row a clerk may fill
INLINE_LIST_MAX = 255  # Excel's limit on an inline list's formula

DATE = "dd/mm/yyyy"
DATE_TIME = "dd/mm/yyyy hh:mm"
WHOLE = "0"
DECIMAL = "0.0##"
TEXT = "@"

_HEADER_FILL = PatternFill("solid", fgColor="DDE7F5")
_REQUIRED_FILL = PatternFill("solid", fgColor="F9E0B0")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)


@dataclass(frozen=True, slots=True)
class Words:
    """The instructions sheet's words in one language (the titles stay Vietnamese: they are
    the headers the upload reads)."""

    title: str
    report: str
    agency: str
    cadence: str
    deadline: str
    no_deadline: str
    how: tuple[str, ...]
    columns: tuple[str, ...]
    yes: str
    no: str
    kinds: Mapping[str, str]
    between: str
    at_least: str
    at_most: str
    every: Mapping[str, str]
    example_note: str


WORDS: dict[Language, Words] = {
    "vi": Words(
        title="Hướng dẫn điền biểu mẫu",
        report="Báo cáo",
        agency="Đơn vị quản lý",
        cadence="Tần suất báo cáo",
        deadline="Hạn gửi: trước {due} hằng ngày (giờ Việt Nam)",
        no_deadline="Không có giờ hạn cố định: gửi theo tần suất trên",
        how=(
            f"Điền số liệu vào trang “{DATA_SHEET}”, mỗi dòng một bản ghi, từ dòng 2.",
            "Dòng 2 là dòng ví dụ: hãy ghi đè bằng số liệu của đơn vị hoặc xoá đi.",
            "Không đổi tên cột; có thể thêm cột ghi chú, cột lạ được bỏ qua.",
            "Ngày gõ theo dạng dd/mm/yyyy; số thập phân dùng dấu phẩy (8,5) hoặc ô số.",
            "Cột tô cam là bắt buộc. Sau khi gửi, biên nhận ghi rõ dòng nào cần sửa.",
        ),
        columns=(
            "Cột",
            "Tên cột",
            "Mã trường",
            "Bắt buộc",
            "Kiểu dữ liệu",
            "Đơn vị tính",
            "Giới hạn",
            "Giá trị cho phép",
            "Tên cột khác được chấp nhận",
        ),
        yes="Có",
        no="Không",
        kinds={
            "date": "Ngày (dd/mm/yyyy)",
            "date_time": "Ngày giờ (dd/mm/yyyy hh:mm), giờ Việt Nam",
            "integer": "Số nguyên",
            "number": "Số",
            "text": "Chữ",
            "choice": "Chọn trong danh sách",
            "boolean": "Đúng/Sai",
        },
        between="từ {low} đến {high}",
        at_least="từ {low} trở lên",
        at_most="đến {high}",
        every={
            "d": "{n} ngày một lần",
            "h": "{n} giờ một lần",
            "m": "{n} phút một lần",
            "s": "{n} giây một lần",
        },
        example_note="Dòng ví dụ: ghi đè bằng số liệu của đơn vị.",
    ),
    "en": Words(
        title="How to fill in the template",
        report="Report",
        agency="Owning agency",
        cadence="Reporting cadence",
        deadline="Due before {due} each day (Vietnam time)",
        no_deadline="No fixed deadline: report at the cadence above",
        how=(
            f"Fill in the sheet “{DATA_SHEET}”, one record per row, from row 2.",
            "Row 2 is an example: overwrite it with your unit's figures or delete it.",
            "Do not rename the columns; a notes column may be added, unknown columns are ignored.",
            "Type dates as dd/mm/yyyy; decimals with a decimal comma (8,5) or as number cells.",
            "Orange columns are required. After the upload, the receipt names the rows to fix.",
        ),
        columns=(
            "Column",
            "Title",
            "Field",
            "Required",
            "Type",
            "Unit",
            "Bounds",
            "Allowed values",
            "Other accepted titles",
        ),
        yes="Yes",
        no="No",
        kinds={
            "date": "Date (dd/mm/yyyy)",
            "date_time": "Date and time (dd/mm/yyyy hh:mm), Vietnam time",
            "integer": "Whole number",
            "number": "Number",
            "text": "Text",
            "choice": "One of the list",
            "boolean": "True/False",
        },
        between="{low} to {high}",
        at_least="{low} or more",
        at_most="up to {high}",
        every={
            "d": "every {n} day(s)",
            "h": "every {n} hour(s)",
            "m": "every {n} minute(s)",
            "s": "every {n} second(s)",
        },
        example_note="Example row: overwrite it with your unit's figures.",
    ),
}


def template(
    definition: FeedDefinition,
    example: Mapping[str, Any],
    lang: Language,
    agency_name: str | None = None,
) -> bytes:
    """The feed's template as an .xlsx file, ``example`` (one of its messages) as row 2, the
    instructions naming the owning agency by ``agency_name`` where its unit file gives one."""
    fields = fields_of(definition)
    words = WORDS[lang]
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = DATA_SHEET
    _header(sheet, fields)
    row = example_row(fields, example)
    for column, field in enumerate(fields, start=1):
        if field.path in row:
            cell = sheet.cell(FIRST_ROW, column, _cell_value(definition, field, row[field.path]))
            cell.number_format = _number_format(field)
    sheet.cell(FIRST_ROW, 1).comment = Comment(words.example_note, "IOC")
    _validate(book, sheet, fields)
    _guide(book.create_sheet(GUIDE_SHEET), definition, fields, words, agency_name)
    book.active = 0
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def example_row(fields: Sequence[FeedField], message: Mapping[str, Any]) -> dict[str, Any]:
    """A message as the spreadsheet row the upload reads back into it, by dotted path. A row is
    one message, and a list in it one element (``lanes[].vehicles``), as the upload reads it:
    the first element of the example's list."""
    row: dict[str, Any] = {}
    for field in fields:
        value = _leaf(message, field.path)
        if value is not None:
            row[field.path] = value
    return row


def _at(message: Mapping[str, Any], dotted: str) -> Any:
    value: Any = message
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _leaf(message: Mapping[str, Any], path: str) -> Any:
    outer, marker, inner = path.partition("[].")
    if not marker:
        return _at(message, path)
    items = _at(message, outer)
    if not isinstance(items, list) or not items or not isinstance(items[0], Mapping):
        return None
    return _at(items[0], inner)


def _kind(field: FeedField) -> str:
    if field.time_format is not None:
        return "date" if field.time_format == "date" else "date_time"
    if field.enum is not None:
        return "choice"
    if field.decimal_comma:
        return "number"
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(field.type, "text")


def _number_format(field: FeedField) -> str:
    return {
        "date": DATE,
        "date_time": DATE_TIME,
        "integer": WHOLE,
        "number": DECIMAL,
        "text": TEXT,
        "choice": TEXT,
    }.get(_kind(field), "General")


def _cell_value(definition: FeedDefinition, field: FeedField, value: Any) -> Any:
    """An example's value as a clerk would type it: the time a date cell in the province's
    time, a decimal-comma text a number."""
    kind = _kind(field)
    if kind in ("date", "date_time"):
        return _local_time(definition, value)
    if field.decimal_comma and isinstance(value, str):
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return value  # a no-reading marker ("N/A")
    if kind == "text":
        return str(value)
    return value


def _local_time(definition: FeedDefinition, value: Any) -> datetime.date | datetime.datetime:
    form = definition.time.format
    zone = definition.time.zone or ZONE
    if form == "date":
        return datetime.date.fromisoformat(str(value))
    if form == "epoch_ms":
        moment = datetime.datetime.fromtimestamp(int(value) / 1000, zone)
    elif form == "iso8601":
        moment = datetime.datetime.fromisoformat(str(value))
    else:
        moment = datetime.datetime.strptime(str(value), form)  # a local time
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment


def _header(sheet: Worksheet, fields: Sequence[FeedField]) -> None:
    for column, field in enumerate(fields, start=1):
        cell = sheet.cell(HEADER_ROW, column, field.title)
        cell.font = _BOLD
        cell.fill = _REQUIRED_FILL if field.required else _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.comment = Comment(_header_note(field), "IOC")
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = max(14, min(40, len(field.title) + 4))
        # The rows a clerk fills take the column's format: a code typed stays text.
        sheet.column_dimensions[letter].number_format = _number_format(field)
    sheet.freeze_panes = sheet.cell(FIRST_ROW, 1)


def _header_note(field: FeedField) -> str:
    words = WORDS["vi"]
    lines = [field.path, words.kinds[_kind(field)]]
    if field.unit and field.unit != "count":
        lines.append(f"Đơn vị tính: {field.unit}")
    bounds = _bounds(field, words)
    if bounds:
        lines.append(f"Giới hạn: {bounds}")
    if field.required:
        lines.append("Bắt buộc")
    return "\n".join(lines)


def _validate(book: Workbook, sheet: Worksheet, fields: Sequence[FeedField]) -> None:
    for column, field in enumerate(fields, start=1):
        letter = get_column_letter(column)
        cells = f"{letter}{FIRST_ROW}:{letter}{LAST_ROW}"
        rule = _rule(book, field)
        if rule is not None:
            rule.add(cells)
            sheet.add_data_validation(rule)


def _rule(book: Workbook, field: FeedField) -> DataValidation | None:
    if field.enum is not None:
        values = [str(value) for value in field.enum]
        inline = ",".join(values)
        if (
            len(inline) + 2 <= INLINE_LIST_MAX
            and not any(c in inline for c in '"')
            and all("," not in value for value in values)
        ):
            source = f'"{inline}"'
        else:
            source = _listed(book, values)
        return DataValidation(
            type="list",
            formula1=source,
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=field.title,
            error="Chọn một giá trị trong danh sách.",
        )
    kind = _kind(field)
    if kind not in ("integer", "number") or (field.minimum is None and field.maximum is None):
        return None
    low, high = field.minimum, field.maximum
    operator = (
        "between"
        if low is not None and high is not None
        else ("greaterThanOrEqual" if low is not None else "lessThanOrEqual")
    )
    first, second = (low, high) if low is not None else (high, None)
    # A warning, not a stop: the upload has the last word (it reads "8,5" typed as text too).
    return DataValidation(
        type="whole" if kind == "integer" else "decimal",
        operator=operator,
        formula1=_number(first),
        formula2=_number(second) if operator == "between" else None,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle=field.title,
        error=f"Giới hạn: {_bounds(field, WORDS['vi'])}",
    )


def _listed(book: Workbook, values: Sequence[str]) -> str:
    """The values in a column of the hidden lists sheet; the range that names them."""
    if LISTS_SHEET in book.sheetnames:
        lists = book[LISTS_SHEET]
        column = lists.max_column + 1
    else:
        lists = book.create_sheet(LISTS_SHEET)
        lists.sheet_state = "hidden"
        column = 1
    for row, value in enumerate(values, start=1):
        lists.cell(row, column, value).number_format = TEXT
    letter = get_column_letter(column)
    return f"{quote_sheetname(LISTS_SHEET)}!${letter}$1:${letter}${len(values)}"


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if value == int(value) else repr(value)


def _shown(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _bounds(field: FeedField, words: Words) -> str:
    low, high = field.minimum, field.maximum
    if low is not None and high is not None:
        return words.between.format(low=_shown(low), high=_shown(high))
    if low is not None:
        return words.at_least.format(low=_shown(low))
    if high is not None:
        return words.at_most.format(high=_shown(high))
    return ""


def _cadence(seconds: int, words: Words) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return words.every[unit].format(n=seconds // size)
    return words.every["s"].format(n=seconds)


def _guide(
    sheet: Worksheet,
    definition: FeedDefinition,
    fields: Sequence[FeedField],
    words: Words,
    agency_name: str | None,
) -> None:
    sheet.cell(1, 1, words.title).font = _TITLE
    facts = [
        (words.report, f"{definition.title} ({definition.feed})"),
        (
            words.agency,
            f"{agency_name} ({definition.agency})" if agency_name else definition.agency,
        ),
        (words.cadence, _cadence(definition.cadence_seconds, words)),
        (
            "",
            words.deadline.format(due=definition.due.strftime("%H:%M"))
            if definition.due is not None
            else words.no_deadline,
        ),
    ]
    row = 3
    for label, text in facts:
        sheet.cell(row, 1, label).font = _BOLD
        sheet.cell(row, 2, text)
        row += 1
    row += 1
    for number, line in enumerate(words.how, start=1):
        sheet.cell(row, 1, number)
        sheet.cell(row, 2, line)
        row += 1
    row += 1
    for column, name in enumerate(words.columns, start=1):
        cell = sheet.cell(row, column, name)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
    for index, field in enumerate(fields, start=1):
        row += 1
        values = (
            get_column_letter(index),
            field.title,
            field.path,
            words.yes if field.required else words.no,
            words.kinds[_kind(field)],
            "" if field.unit == "count" else field.unit,
            _bounds(field, words),
            ", ".join(str(value) for value in field.enum or ()),
            ", ".join(field.aliases),
        )
        for column, value in enumerate(values, start=1):
            sheet.cell(row, column, value).number_format = TEXT
    for column, width in enumerate((8, 28, 24, 10, 30, 12, 22, 36, 36), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
