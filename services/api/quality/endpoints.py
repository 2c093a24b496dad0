"""``/v1/quality``: per agency, đúng, đủ, sạch, sống, and the feeds that lag."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from services.api.caching import conditional
from services.api.dependencies import Caller, Connection, State
from services.api.feeds.repository import newest_events
from services.api.feeds.status import feed_status
from services.api.quality import scores
from services.api.quality.repository import held_in_window, received_since
from services.api.quality.schemas import AgencyQuality, FeedQuality, QualityReport
from services.api.schemas import error_responses

router = APIRouter(tags=["feeds"], responses=error_responses(401))
WINDOW = timedelta(hours=24)


@router.get(
    "/v1/quality",
    response_model=QualityReport,
    responses={304: {"description": "Unchanged since the ETag"}},
)
async def quality(
    request: Request, caller: Caller, connection: Connection, state: State
) -> Response:
    """Per agency: correct, sufficient, clean and live (đúng, đủ, sạch, sống) over the last
    24 hours, each agency's feeds scored, and the feeds that lag."""
    now = state.clock()
    periodic = [name for name, feed in state.feeds.items() if feed.periodic]
    received = await received_since(connection, now - WINDOW)
    held = await held_in_window(connection, periodic, now - WINDOW, now)
    newest = await newest_events(connection)

    by_agency: dict[str, list[FeedQuality]] = defaultdict(list)
    for name, feed in sorted(state.feeds.items()):
        cadence = timedelta(seconds=feed.cadence_seconds)
        status = feed_status(newest.get(name), feed, now)
        counts = received.get(name, scores.Received(0, 0, 0))
        sufficient = None
        if name in held:
            records, entities = held[name]
            sufficient = scores.sufficient(records, entities, max(WINDOW // cadence, 1))
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
    report = QualityReport(
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
    return conditional(request, report)
