"""The four quality scores and the report that gathers them, from what the store would say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.feeds.window import FeedWindow, Received
from services.api.quality import scores
from services.api.quality.service import report_of
from services.common.feeds import FeedDefinition

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_correct_is_the_valid_share_and_unknown_without_records() -> None:
    assert scores.correct(Received(records=8, quarantined=2, repeated=3)) == 0.75
    assert scores.correct(Received(0, 0, 0)) is None


def test_clean_leaves_out_the_quarantined_and_the_repeated_never_below_zero() -> None:
    assert scores.clean(Received(records=10, quarantined=2, repeated=3)) == 0.5
    assert scores.clean(Received(records=2, quarantined=2, repeated=5)) == 0.0
    assert scores.clean(Received(0, 0, 0)) is None


def test_sufficient_counts_held_against_expected_capped_at_one() -> None:
    assert scores.sufficient(held=48, entities=2, cadences=96) == 0.25
    assert scores.sufficient(held=500, entities=2, cadences=96) == 1.0
    assert scores.sufficient(held=5, entities=0, cadences=96) is None


def test_mean_skips_the_unknown() -> None:
    assert scores.mean([1.0, None, 0.5]) == 0.75
    assert scores.mean([None, None]) is None


@pytest.mark.parametrize(
    ("age", "live"),
    [(timedelta(minutes=10), 1.0), (timedelta(minutes=30), 0.5), (timedelta(hours=3), 0.0)],
)
def test_the_report_scores_each_feed_and_names_the_laggards(
    feeds: dict[str, FeedDefinition], age: timedelta, live: float
) -> None:
    salinity = {"salinity": feeds["salinity"]}  # every 15 minutes
    report = report_of(
        salinity,
        NOW,
        FeedWindow(
            received={"salinity": Received(records=100, quarantined=10, repeated=10)},
            held={"salinity": (96, 2)},  # 2 stations, 96 readings each expected in 24 h
            newest={"salinity": NOW - age},
        ),
    )
    [agency] = report.agencies
    [feed] = agency.feeds
    assert (agency.agency, feed.feed) == (feeds["salinity"].agency, "salinity")
    assert (feed.correct, feed.clean, feed.sufficient, feed.live) == (0.9, 0.8, 0.5, live)
    assert agency.lagging == ([] if live == 1.0 else ["salinity"])
    assert report.window_s == 86_400


def test_a_feed_never_heard_from_is_silent_and_unscored(
    feeds: dict[str, FeedDefinition],
) -> None:
    report = report_of(feeds, NOW, FeedWindow(received={}, held={}, newest={}))
    every = [feed for agency in report.agencies for feed in agency.feeds]
    assert {feed.feed for feed in every} == set(feeds)
    assert all(feed.status == "silent" and feed.correct is None for feed in every)
    assert all(agency.lagging for agency in report.agencies)
