"""A feed's liveness, pure: from the age of its newest event against its expected cadence.

live: within one cadence (plus grace); late: within two; stale: older; silent: never heard
from, or not for ten cadences (a department that stopped sending).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

FeedStatus = Literal["live", "late", "stale", "silent"]
GRACE = timedelta(minutes=5)


def feed_status(last_event: datetime | None, *, cadence: timedelta, now: datetime) -> FeedStatus:
    if last_event is None:
        return "silent"
    age = now - last_event
    if age <= cadence + GRACE:
        return "live"
    if age <= 2 * cadence + GRACE:
        return "late"
    if age <= 10 * cadence:
        return "stale"
    return "silent"
