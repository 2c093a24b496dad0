"""The province's calendar: a day is a day in Asia/Ho_Chi_Minh, whatever the machine's own time
zone. Deadlines, due dates, scorecards, reminders and exports all count days by it."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def province_day(at: datetime) -> date:
    """The province's day at the moment ``at`` (which must carry its time zone)."""
    return at.astimezone(ZONE).date()


def day_start(day: date) -> datetime:
    """The moment the province's ``day`` begins (its midnight, in UTC+7)."""
    return datetime.combine(day, time(), tzinfo=ZONE)
