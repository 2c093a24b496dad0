"""`ioc feeds` against the real store: each feed's status, newest event and how far behind, the
same listing as GET /v1/feeds (``feeds.service.feed_listing``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.api.feeds.service import feed_listing
from services.common.feeds import FeedDefinition
from services.common.terminal import moment
from services.common.topics import Topics
from tests.integration.conftest import StackUnderTest, db_connection, settings_for
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_feeds_says_each_feeds_status_newest_event_and_how_far_behind(
    stack: StackUnderTest, database_url: str, db: Any, feeds: dict[str, FeedDefinition]
) -> None:
    # Event times relative to the clock the command reads (the real one, or faketime's for both
    # processes), far from any status's edge.
    now = datetime.now(UTC).replace(microsecond=0)
    newest = {
        "salinity": now - timedelta(minutes=10),  # every 15 min: live
        "air-quality": now - timedelta(hours=3),  # hourly: stale
        "hospital-beds": now - timedelta(days=30),  # every 6 h: silent
    }
    for name, ts in newest.items():
        await db.execute(
            "INSERT INTO latest (feed, entity, metric, ts, value) VALUES ($1, 'E1', 'm', $2, 1)",
            name,
            ts,
        )
    await db.execute(
        "INSERT INTO latest (feed, entity, metric, ts, value)"
        " VALUES ('salinity', 'E2', 'm', $1, 1)",
        now - timedelta(hours=5),  # an older series of the same feed: the newest counts
    )
    done = run_ioc(service_env(settings_for(database_url, stack.kafka, Topics(""))), "feeds")
    assert done.returncode == 0, done.stderr
    header, *rows, footer = done.stdout.splitlines()
    assert header.split() == ["feed", "agency", "status", "last", "event", "behind", "every"]
    assert footer == "times in Asia/Ho_Chi_Minh; behind: the newest event's age"
    shown = {row.split()[0]: row for row in rows}
    async with db_connection(db) as connection:
        listing = await feed_listing(connection, feeds, now)
    assert list(shown) == [feed.feed for feed in listing.feeds] == sorted(feeds)
    for feed in listing.feeds:  # the API's own answer, feed by feed
        agency, status = shown[feed.feed].split()[1:3]
        assert (agency, status) == (feed.agency, feed.status)
    assert [shown[name].split()[2] for name in ("salinity", "air-quality", "hospital-beds")] == [
        "live",
        "stale",
        "silent",
    ]
    assert shown["traffic"].split()[2:5] == ["silent", "-", "-"]  # never heard from
    assert moment(newest["salinity"]) in shown["salinity"]
    assert re.search(r" 10m( \d\ds)?  +15m$", shown["salinity"]), shown["salinity"]
    assert re.search(r" 3h( 0\dm)?  +1h$", shown["air-quality"]), shown["air-quality"]
    assert re.search(r" 30d  +6h$", shown["hospital-beds"]), shown["hospital-beds"]
