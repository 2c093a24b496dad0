"""A feed's liveness, pure: from the age of its newest event against its expected cadence.

live: within one cadence (plus grace); late: within two; stale: older; silent: never heard
from, or not for ten cadences (a department that stopped sending).

A daily feed with a deadline (``due: "17:00"``) is judged by days instead: live while it holds
the latest day that is due (today's from 17:00 local, yesterday's before), late one day behind,
stale further behind, silent ten days behind.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Literal

from services.common.feeds import FeedDefinition

FeedStatus = Literal["live", "late", "stale", "silent"]
FEED_STATUSES: tuple[FeedStatus, ...] = ("live", "late", "stale", "silent")
GRACE = timedelta(minutes=5)


def stale_after(cadence: timedelta) -> timedelta:
    """The feed's deadline: an age past this is stale (and, at ten cadences, silent)."""
    return 2 * cadence + GRACE


def feed_status(last_event: datetime | None, feed: FeedDefinition, now: datetime) -> FeedStatus:
    if last_event is None:
        return "silent"
    if feed.due is not None:
        return _daily_status(last_event, feed.due, feed.time.zone or UTC, now)
    cadence = timedelta(seconds=feed.cadence_seconds)
    age = now - last_event
    if age <= cadence + GRACE:
        return "live"
    if age <= stale_after(cadence):
        return "late"
    if age <= 10 * cadence:
        return "stale"
    return "silent"


def _daily_status(last_event: datetime, due: time, zone: tzinfo, now: datetime) -> FeedStatus:
    local_now = now.astimezone(zone)
    due_today = datetime.combine(local_now.date(), due, tzinfo=zone)
    latest_due_day = local_now.date() - timedelta(days=0 if local_now >= due_today else 1)
    behind = (latest_due_day - last_event.astimezone(zone).date()).days
    if behind <= 0:
        return "live"
    if behind == 1:
        return "late"
    return "stale" if behind < 10 else "silent"
