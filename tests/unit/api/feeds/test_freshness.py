"""The freshness gauges (sống) from each feed's newest event, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from services.api.feeds.freshness import publish_freshness
from services.common.feeds import FeedDefinition

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_age_deadline_and_status_per_feed(feeds: dict[str, FeedDefinition]) -> None:
    newest = {
        "salinity": NOW - timedelta(minutes=10),  # cadence 15 min: live
        "air-quality": NOW - timedelta(hours=5),  # cadence 1 h: past 2 h + 5 min, stale
    }
    publish_freshness(feeds, newest, NOW)

    salinity = {"feed": "salinity", "agency": "snnmt"}
    assert _gauge("ioc_feed_age_seconds", **salinity) == 600
    assert _gauge("ioc_feed_deadline_seconds", **salinity) == 2 * 900 + 300
    assert (
        _gauge("ioc_feed_last_event_timestamp_seconds", **salinity)
        == newest["salinity"].timestamp()
    )
    assert _gauge("ioc_feed_status", **salinity, status="live") == 1
    assert _gauge("ioc_feed_status", **salinity, status="stale") == 0

    air = {"feed": "air-quality", "agency": feeds["air-quality"].agency}
    assert _gauge("ioc_feed_status", **air, status="stale") == 1
    assert _gauge("ioc_feed_status", **air, status="live") == 0

    traffic = {"feed": "traffic", "agency": feeds["traffic"].agency}
    assert _gauge("ioc_feed_status", **traffic, status="silent") == 1  # never heard from
