"""A feed's liveness, pure: from the age of its newest event against its expected cadence.

live: within one cadence (plus grace); late: within two; stale: older; silent: never heard
from, or not for ten cadences (a department that stopped sending).

A daily feed with a deadline (``due: "17:00"``) is judged by days instead: live while it holds
the latest day that is due (today's from 17:00 local, yesterday's before), late one day behind,
stale further behind, silent ten days behind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
    behind = days_behind(last_event, feed, now) if feed.due is not None else None
    if behind is not None:
        return _daily_status(behind)
    cadence = timedelta(seconds=feed.cadence_seconds)
    age = now - last_event
    if age <= cadence + GRACE:
        return "live"
    if age <= stale_after(cadence):
        return "late"
    if age <= 10 * cadence:
        return "stale"
    return "silent"


def days_behind(
    last_event: datetime | None,
    feed: FeedDefinition,
    now: datetime,
    expected_since: date | None = None,
) -> int | None:
    """For a daily feed with a deadline: how many due days it does not hold (0: on time). One
    that has never sent misses every due day from ``expected_since`` (the first day the IOC
    expected it, known from the scorecards), the most behind a feed can be; None where it has
    never sent and nobody yet said since when it was expected. Today is due from the deadline
    (local), yesterday before."""
    latest = latest_due_day(feed, now)
    if last_event is None:
        if expected_since is None:
            return None
        return max((latest - expected_since).days + 1, 0)
    zone = feed.time.zone or UTC
    return max((latest - last_event.astimezone(zone).date()).days, 0)


def latest_due_day(feed: FeedDefinition, now: datetime) -> date:
    """The newest day whose figures are due: today from the deadline (the feed's local time),
    yesterday before."""
    assert feed.due is not None, f"{feed.feed} has no deadline"
    zone = feed.time.zone or UTC
    local_now = now.astimezone(zone)
    due_today = datetime.combine(local_now.date(), feed.due, tzinfo=zone)
    return local_now.date() - timedelta(days=0 if local_now >= due_today else 1)


def _daily_status(behind: int) -> FeedStatus:
    if behind <= 0:
        return "live"
    if behind == 1:
        return "late"
    return "stale" if behind < 10 else "silent"
