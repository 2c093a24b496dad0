"""Which days ``ioc export`` may write, pure: a day as an operator types it (ISO ``2026-11-24``
or ``24/11/2026``, day first as the province writes it), and the province's calendar against
the clock the command was given: a day still to come has no data and is refused; today is not
over, so its files hold only what is stored so far and the command warns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from services.common.province import ZONE, province_day

_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


class DayError(ValueError):
    """The message says what is wrong with the day and how to write one."""


def parse_day(text: str) -> date:
    text = text.strip()
    try:
        found = _DAY_FIRST.fullmatch(text)
        if found:
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError as error:
        raise DayError(
            f"{text!r} is not a day ({error}): write 2026-11-24 or 24/11/2026 (day first)"
        ) from None


@dataclass(frozen=True, slots=True)
class ExportDays:
    first: date
    last: date
    today: date  # the province's
    unfinished: date | None  # today, where it is among the days: its files are partial


def export_days_at(first: date, last: date, now: datetime) -> ExportDays:
    """The days from ``first`` to ``last`` checked against ``now`` on the province's calendar."""
    today = province_day(now)
    if last < first:
        raise DayError(f"--to {last} is before --from {first}")
    if last > today:
        raise DayError(
            f"--to {last} has not come yet in {ZONE.key} (today is {today}): "
            "a day is exported once it holds data"
        )
    return ExportDays(first, last, today, today if first <= today <= last else None)
