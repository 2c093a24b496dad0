"""Instants in query strings (``from``, ``to``): an ISO 8601 date-time with its UTC offset.

Pydantic alone would also take a number as seconds since 1970 (``to=0.5``) and a time without
a zone, which a caller surely did not mean: both are refused with what to send instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

EXAMPLE = "2026-11-25T06:00:00+07:00 (in a URL, + is %2B) or 2026-11-24T23:00:00Z"


def _an_instant(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date-time, e.g. {EXAMPLE}") from None
    if moment.tzinfo is None:
        raise ValueError(f"needs a UTC offset, e.g. {EXAMPLE}")
    return moment


Instant = Annotated[datetime, BeforeValidator(_an_instant)]
