"""``/v1/quality``: đúng, đủ, sạch, sống per agency, from the departments' examples plus a
re-sent record and two bad ones, each score checked against a count made here from the data."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from services.api.feeds.window import received_since
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import CommonSettings
from tests.integration.api.conftest import api_settings
from tests.integration.conftest import db_connection
from tests.integration.pipeline import ingest_every_example

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # the app's clock: the day of the examples
WINDOW = timedelta(hours=24)


def _canonical(feed: FeedDefinition) -> list[dict[str, Any]]:
    lines = (feed.directory / "expected.ndjson").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


@pytest.mark.asyncio(loop_scope="session")
async def test_quality_scores_each_agency_from_what_its_feeds_sent(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    salinity = feeds["salinity"]
    examples = salinity.examples_path.read_bytes().splitlines()
    bad = [b"not json", b'{"ma_tram": "CM-SAL-01"}']
    await ingest_every_example(settings, feeds, extra={"salinity": [examples[0], *bad]})

    _, key = await issue_key(db, "reader", "wall")
    app = create_app(replace(api_settings(settings)), clock=lambda: AT)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            headers = {"Authorization": f"Bearer {key}"}
            response = await client.get("/v1/quality", headers=headers)
            assert response.status_code == 200
            again = await client.get(
                "/v1/quality", headers={**headers, "If-None-Match": response.headers["ETag"]}
            )
            assert again.status_code == 304
            assert (await client.get("/v1/quality")).status_code == 401
    report = response.json()
    assert report["window_s"] == 86400
    agencies = {a["agency"]: a for a in report["agencies"]}
    assert set(agencies) == {feed.agency for feed in feeds.values()}
    by_feed = {f["feed"]: f for a in report["agencies"] for f in a["feeds"]}

    # Salinity: its examples, one of them sent twice, and two records quarantined.
    received = len(examples) + 3
    expected_salinity: dict[str, object] = {
        "correct": round((received - 2) / received, 4),
        "clean": round((received - 2 - 1) / received, 4),
    }
    canonical = _canonical(salinity)
    held = {(c["entity"], c["ts"]) for c in canonical if AT - WINDOW < _ts(c) <= AT}
    stations = {c["entity"] for c in canonical}
    expected_salinity["sufficient"] = round(len(held) / (len(stations) * 96), 4)
    newest = max(_ts(c) for c in canonical)
    assert AT - newest > 10 * timedelta(minutes=15)  # more than ten cadences: silent
    expected_salinity |= {"status": "silent", "live": 0.0}
    assert {k: by_feed["salinity"][k] for k in expected_salinity} == expected_salinity

    # Event-driven feeds have no expected count; every feed's scores are shares.
    assert by_feed["citizen-feedback"]["sufficient"] is None
    assert by_feed["programme-tasks"]["sufficient"] is None
    for name, scores in by_feed.items():
        for score in ("correct", "clean", "sufficient"):
            assert scores[score] is None or 0 <= scores[score] <= 1, (name, score)

    snnmt = agencies["snnmt"]
    air = by_feed["air-quality"]
    assert snnmt["correct"] == round((by_feed["salinity"]["correct"] + air["correct"]) / 2, 4)
    assert "salinity" in snnmt["lagging"]
    assert [f["feed"] for f in snnmt["feeds"]] == ["air-quality", "salinity"]


def _ts(canonical: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(canonical["ts"])


@pytest.mark.asyncio(loop_scope="session")
async def test_the_last_24_hours_are_24_hours_whatever_the_hour(db: Any) -> None:
    # 03:00 in UTC (10:00 in the province): a count kept by the UTC day read everything since
    # UTC midnight, and everything of the day before once the window crossed it (24 to 48 h).
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    async with db_connection(db) as connection:
        await connection.executemany(
            "INSERT INTO feed_hourly_counts (feed, hour, records, quarantined, repeated)"
            " VALUES ('salinity', $1, $2, 0, 0)",
            [
                (now - timedelta(hours=30), 1000),  # yesterday, beyond the window
                (now - timedelta(hours=23), 20),  # within it, yesterday by the calendar
                (now - timedelta(minutes=30), 3),
            ],
        )
        received = await received_since(connection, now - timedelta(hours=24))
    assert received["salinity"].records == 23
