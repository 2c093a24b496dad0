"""A feed's liveness, pure: from the age of its newest event against its expected cadence.

live: within one cadence (plus grace); late: within two; stale: older; silent: never heard
from, or not for ten cadences (a department that stopped sending).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

FeedStatus = Literal["live", "late", "stale", "silent"]
FEED_STATUSES: tuple[FeedStatus, ...] = ("live", "late", "stale", "silent")
GRACE = timedelta(minutes=5)


def stale_after(cadence: timedelta) -> timedelta:
    """The feed's deadline: an age past this is stale (and, at ten cadences, silent)."""
    return 2 * cadence + GRACE


def feed_status(last_event: datetime | None, *, cadence: timedelta, now: datetime) -> FeedStatus:
    if last_event is None:
        return "silent"
    age = now - last_event
    if age <= cadence + GRACE:
        return "live"
    if age <= stale_after(cadence):
        return "late"
    if age <= 10 * cadence:
        return "stale"
    return "silent"
