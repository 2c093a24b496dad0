"""A cell as a clerk typed it, made the value the feed's message holds: pure, no I/O, no clock.

- A date or time is a real date cell, or text in the feed's own format, or ``dd/mm/yyyy``
  (with ``HH:MM`` or ``HH:MM:SS``), or ``yyyy-mm-dd``; it is the province's time
  (``services/common/province.py``) and becomes the feed's own time format.
- A number is a number cell, or text with a decimal comma (``8,5``); with both marks, the last
  one is the decimal mark (``1.234,5`` and ``1,234.5``). An integer may come from a number cell
  holding a whole number (``141.0``).
- A code typed as a number (``32150`` for the text ``"32150"``) is the code; a number for a
  field that holds numbers as text with a decimal comma is written so (``8.5`` → ``"8,5"``).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any

from services.api.uploads.wording import Problem
from services.common.feed_fields import FeedField
from services.common.province import ZONE

# Text dates a clerk types, tried after the feed's own format.
CLERK_TIME_FORMATS = (
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
)
_ISO_DATE = re.compile(r"^\^?\\d\{4\}-\\d\{2\}-\\d\{2\}\$?$")  # a schema pattern for yyyy-mm-dd
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
_YES = frozenset({"true", "có", "co", "x", "yes", "1"})
_NO = frozenset({"false", "không", "khong", "no", "0"})


class CellProblem(ValueError):
    """The cell cannot be the field's value; ``problem`` says why, in words of any language."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


def is_empty(cell: object) -> bool:
    return cell is None or cell == "" or (type(cell) is str and not cell.strip())


def cell_value(field: FeedField, cell: object) -> Any:
    """The value the message holds at ``field.path`` for a non-empty ``cell``."""
    if isinstance(cell, str):
        cell = cell.strip()
    if field.time_format is not None:
        return _time(field.time_format, cell)
    if field.type == "string":
        return _text(field, cell)
    if field.type == "integer":
        number = _number(cell)
        if not number.is_integer():
            raise CellProblem(Problem("not_whole", {"value": cell}))
        if abs(number) >= 2**63:  # no message holds it (JSON readers stop at 64 bits)
            raise CellProblem(Problem("out_of_range", {"value": cell}))
        return int(number)
    if field.type == "number":
        number = _number(cell)
        return int(number) if isinstance(cell, int) else number
    return _yes_no(cell)


def _text(field: FeedField, cell: object) -> str:
    if isinstance(cell, bool):
        raise CellProblem(Problem("not_text", {"value": cell}))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time() else cell.isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float | int):
        text = _number_text(float(cell))
        return text.replace(".", ",") if field.decimal_comma else text
    if not isinstance(cell, str):
        raise CellProblem(Problem("not_text", {"value": cell}))
    if field.pattern is not None and _ISO_DATE.match(field.pattern):
        return _iso_date(cell)
    if field.enum is not None:
        return _choice(field, cell)
    return cell


def _number_text(number: float) -> str:
    """A code or a figure as text: ``32150.0`` is ``"32150"``, ``8.5`` is ``"8.5"``."""
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def _iso_date(text: str) -> str:
    """Text for a yyyy-mm-dd field, typed as a clerk would (``31/12/2026``)."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    return text  # as it is: the feed's schema names the problem


def _choice(field: FeedField, text: str) -> str:
    assert field.enum is not None
    for choice in field.enum:
        if str(choice).casefold() == text.casefold():
            return str(choice)
    choices = ", ".join(str(choice) for choice in field.enum)
    raise CellProblem(Problem("not_a_choice", {"value": text, "choices": choices}))


def _number(cell: object) -> float:
    if isinstance(cell, bool | date):
        raise CellProblem(Problem("not_a_number", {"value": str(cell)}))
    if isinstance(cell, int | float):
        number = float(cell)
    elif isinstance(cell, str):
        number = _number_from_text(cell)
    else:
        raise CellProblem(Problem("not_a_number", {"value": str(cell)}))
    if not math.isfinite(number):
        raise CellProblem(Problem("not_a_number", {"value": str(cell)}))
    return number


def _number_from_text(text: str) -> float:
    compact = text.replace(" ", "").replace("\u00a0", "")
    if "," in compact and "." in compact:
        # both marks: the last is the decimal mark, the other groups thousands
        decimal = "," if compact.rfind(",") > compact.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        compact = compact.replace(thousands, "")
    if not _NUMBER.match(compact):
        raise CellProblem(Problem("not_a_number", {"value": text}))
    return float(compact.replace(",", "."))


def _yes_no(cell: object) -> bool:
    if isinstance(cell, bool):
        return cell
    word = str(cell).strip().casefold()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise CellProblem(Problem("not_yes_no", {"value": cell}))


# --- time ------------------------------------------------------------------------------------
def _time(time_format: str, cell: object) -> Any:
    if isinstance(cell, datetime):
        local = cell.replace(tzinfo=None)
    elif isinstance(cell, date):
        local = datetime(cell.year, cell.month, cell.day)
    elif isinstance(cell, str):
        if _in_own_format(time_format, cell):
            return cell
        local = _clerk_time(cell, time_format)
    elif time_format == "epoch_ms" and isinstance(cell, int | float) and not isinstance(cell, bool):
        if not float(cell).is_integer():
            raise CellProblem(Problem("not_whole", {"value": cell}))
        return int(cell)
    else:
        raise CellProblem(Problem("not_a_date", {"value": str(cell)}))
    return _formatted(time_format, local)


def _in_own_format(time_format: str, text: str) -> bool:
    """Whether the text is the feed's own format already (an ISO time with its offset)."""
    try:
        if time_format == "iso8601":
            return datetime.fromisoformat(text).tzinfo is not None
        if time_format == "date":
            date.fromisoformat(text)
        elif time_format == "epoch_ms":
            return False  # the message holds an integer, never text
        else:
            datetime.strptime(text, time_format)
    except ValueError:
        return False
    return True


def _clerk_time(text: str, time_format: str) -> datetime:
    if time_format == "iso8601":  # an ISO time without its offset: the province's
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    for pattern in CLERK_TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise CellProblem(Problem("not_a_date", {"value": text}))


def _formatted(time_format: str, local: datetime) -> Any:
    """A wall time in the province, in the feed's own time format."""
    if time_format == "date":
        return local.date().isoformat()
    if time_format == "iso8601":
        return local.replace(tzinfo=ZONE).isoformat()
    if time_format == "epoch_ms":
        return int(local.replace(tzinfo=ZONE).timestamp() * 1000)
    return local.strftime(time_format)
