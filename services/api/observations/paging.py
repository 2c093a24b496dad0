"""Where a page of observations ends, as an opaque cursor the next request gives back: the
order it was made for and the last row's key (event time, entity, metric). Pure; a cursor this
service did not give (or gave for the other order) is a ``CursorError`` saying so."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Order = Literal["asc", "desc"]
ORDERS: tuple[Order, ...] = ("asc", "desc")
MAX_CURSOR = 1_000  # characters: a cursor holds a time and two short names


class CursorError(ValueError):
    """The message says what is wrong with the cursor."""


@dataclass(frozen=True, slots=True)
class Position:
    """The last row of a page: the next page starts past it, in the page's order."""

    ts: datetime
    entity: str
    metric: str


def encode(order: Order, last: Position) -> str:
    values = [order, last.ts.isoformat(), last.entity, last.metric]
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, order: Order) -> Position:
    if len(cursor) > MAX_CURSOR:
        raise CursorError(f"cursor is not one this service gave: longer than {MAX_CURSOR}")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
        if not isinstance(values, list) or len(values) != 4:
            raise ValueError("not four values")
        given, ts, entity, metric = values
        if not all(isinstance(v, str) for v in values):
            raise ValueError("not text")
        at = datetime.fromisoformat(ts)
        if at.tzinfo is None:
            raise ValueError("a time without its offset")
        if "\x00" in entity or "\x00" in metric:
            raise ValueError("a NUL")
    # RecursionError: json.loads of a list nested a thousand deep, which no cursor is.
    except (ValueError, TypeError, RecursionError, binascii.Error) as error:
        raise CursorError(f"cursor is not one this service gave ({error})") from None
    if given != order:
        raise CursorError(
            f"cursor was given for order={given}: ask with the same order, or without the cursor"
        )
    return Position(at, entity, metric)
