"""``ioc feeds``: every feed's status, newest event and how far behind it is, from the same
listing as ``GET /v1/feeds`` (``service.feed_listing``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from services.api.feeds.schemas import FeedList
from services.common.command_errors import with_connection
from services.common.feeds import load_feeds
from services.common.province import ZONE
from services.common.settings import CommonSettings
from services.common.terminal import age, moment


def add_commands(commands: Any) -> None:
    feeds = commands.add_parser(
        "feeds", help="every feed: status (live, late, stale, silent), newest event, how far behind"
    )
    feeds.set_defaults(run=_feeds)


def _feeds(args: argparse.Namespace) -> None:
    from services.api.feeds.service import feed_listing

    settings = CommonSettings.from_env()
    feeds = load_feeds(settings.schemas_dir)
    now = datetime.now(UTC)
    listing = with_connection(
        settings.database_url, lambda connection: feed_listing(connection, feeds, now)
    )
    for line in render(listing, now):
        print(line)


def render(listing: FeedList, now: datetime) -> list[str]:
    """The listing as a table: the newest event in the province's zone, ``behind`` its age at
    ``now``, ``every`` the cadence the department keeps."""
    width = max((len(feed.feed) for feed in listing.feeds), default=4)
    agency = max((len(feed.agency) for feed in listing.feeds), default=6)
    lines = [
        f"{'feed':<{width}}  {'agency':<{agency}}  {'status':<6}  "
        f"{'last event':<23}  {'behind':>8}  {'every':>7}"
    ]
    for feed in listing.feeds:
        behind = now - feed.last_event if feed.last_event is not None else None
        lines.append(
            f"{feed.feed:<{width}}  {feed.agency:<{agency}}  {feed.status:<6}  "
            f"{moment(feed.last_event):<23}  {age(behind):>8}  "
            f"{age(timedelta(seconds=feed.expected_interval_s)):>7}"
        )
    lines.append(f"times in {ZONE.key}; behind: the newest event's age")
    return lines
