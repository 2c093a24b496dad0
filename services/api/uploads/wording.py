"""What an upload's receipt says, in Vietnamese first and English on request
(``Accept-Language: en``). A problem is a code and its figures; each language words it here,
and nowhere else. The intake's own reasons (schema, mapping, event-time bounds) are the push's,
in English, and are passed on as they are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")

_TEXTS: dict[str, tuple[str, str]] = {
    # cells
    "empty_required": ("ô trống: cần có {title}", "empty: {title} is required"),
    "not_a_number": ("{value!r} không phải là số", "{value!r} is not a number"),
    "not_whole": ("{value!r} không phải là số nguyên", "{value!r} is not a whole number"),
    "out_of_range": ("{value!r} quá lớn", "{value!r} is too large"),
    "not_a_date": (
        "{value!r} không phải là ngày giờ (dd/mm/yyyy hoặc ô kiểu ngày)",
        "{value!r} is not a date or time (dd/mm/yyyy, or a date cell)",
    ),
    "not_text": ("{value!r} không phải là văn bản", "{value!r} is not text"),
    "not_a_choice": (
        "{value!r} không thuộc các giá trị cho phép: {choices}",
        "{value!r} is not one of: {choices}",
    ),
    "not_yes_no": ("{value!r} không phải là có/không", "{value!r} is not yes/no"),
    "missing_column": (
        "thiếu cột {title} ({path}), một trường bắt buộc",
        "no column for {title} ({path}), a required field",
    ),
    # ignored rows and columns
    "above_header": (
        "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)",
        "above the header row (titles)",
    ),
    "row_number_column": ("cột số thứ tự", "row number column"),
    "unknown_column": (
        "cột {header!r} không phải trường của {feed} (ghi chú)",
        "column {header!r} is not a field of {feed} (notes)",
    ),
    "repeated_column": (
        "cột {header!r} lặp lại trường {path} (đã đọc ở cột {first})",
        "column {header!r} repeats field {path} (read from column {first})",
    ),
    "column_numbers": ("dòng đánh số cột", "row numbering the columns"),
    "total_row": ("dòng tổng cộng", "total row"),
    "below_table": ("phía dưới bảng (chữ ký, ghi chú)", "below the table (signatures, notes)"),
    "not_a_data_row": (
        "không phải dòng số liệu: chỉ có {filled} trên {required} trường bắt buộc",
        "not a data row: only {filled} of {required} required fields filled",
    ),
    "no_header": (
        "không có dòng tiêu đề: không dòng nào trong {rows} dòng đầu nêu ít nhất {least} trường",
        "no header row: none of the first {rows} rows names at least {least} fields",
    ),
    # the whole file
    "no_table": (
        "không có trang tính nào có dòng tiêu đề nêu các trường của {feed} (ví dụ: {examples})",
        "no sheet has a header row naming fields of {feed} (for example: {examples})",
    ),
    "unreadable": (
        "không đọc được tệp {kind}: {reason}",
        "the file cannot be read as {kind}: {reason}",
    ),
    "too_many_rows": (
        "tệp có hơn {limit:,} dòng số liệu; hãy chia nhỏ",
        "the file holds more than {limit:,} data rows; split it",
    ),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the receipt says, before it is worded."""

    code: str
    figures: Mapping[str, object] = field(default_factory=dict)

    def worded(self, language: Language) -> str:
        vietnamese, english = _TEXTS[self.code]
        return (vietnamese if language == "vi" else english).format(**self.figures)


def language_of(accept_language: str | None) -> Language:
    """English when the caller prefers it (its first language is English), else Vietnamese."""
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "en" if first.startswith("en") else "vi"
