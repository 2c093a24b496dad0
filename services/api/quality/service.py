"""The quality report: each feed scored from what the store says of the window (read once by
``feeds/window.py``, which the units' scorecards read too), each agency the mean of its feeds.
``report_of`` is pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from services.api.feeds.status import feed_status
from services.api.feeds.window import WINDOW, FeedWindow, Received, read_window
from services.api.programme.repository import read_tasks
from services.api.quality import scores
from services.api.quality.schemas import AgencyQuality, FeedQuality, QualityReport, UnknownUnit
from services.common.feeds import FeedDefinition
from services.common.units import Units


async def quality_report(
    connection: Any, feeds: Mapping[str, FeedDefinition], now: datetime
) -> QualityReport:
    return report_of(feeds, now, await read_window(connection, feeds, now))


async def unknown_units(
    connection: Any, feeds: Mapping[str, FeedDefinition], units: Units
) -> list[UnknownUnit]:
    """Records that name a unit no unit file knows (today: a task's lead unit)."""
    return [
        UnknownUnit(feed=task.feed, entity=task.task, named=task.lead)
        for task in await read_tasks(connection, feeds)
        if units.named(task.lead) is None
    ]


def report_of(
    feeds: Mapping[str, FeedDefinition], now: datetime, window: FeedWindow
) -> QualityReport:
    received, held, newest = window.received, window.held, window.newest
    by_agency: dict[str, list[FeedQuality]] = defaultdict(list)
    for name, feed in sorted(feeds.items()):
        status = feed_status(newest.get(name), feed, now)
        counts = received.get(name, Received(0, 0, 0))
        sufficient = None
        if name in held:
            records, entities = held[name]
            cadences = max(WINDOW // timedelta(seconds=feed.cadence_seconds), 1)
            sufficient = scores.sufficient(records, entities, cadences)
        by_agency[feed.agency].append(
            FeedQuality(
                feed=name,
                status=status,
                correct=scores.correct(counts),
                sufficient=sufficient,
                clean=scores.clean(counts),
                live=scores.LIVE_SCORE[status],
            )
        )
    return QualityReport(
        window_s=int(WINDOW.total_seconds()),
        as_of=now,
        agencies=[
            AgencyQuality(
                agency=agency,
                correct=scores.mean(f.correct for f in feeds),
                sufficient=scores.mean(f.sufficient for f in feeds),
                clean=scores.mean(f.clean for f in feeds),
                live=scores.mean(f.live for f in feeds),
                lagging=[f.feed for f in feeds if f.status != "live"],
                feeds=feeds,
            )
            for agency, feeds in sorted(by_agency.items())
        ],
    )
