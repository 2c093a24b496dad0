"""The wall's indicators from known inputs: every department example ingested by the real
worker, each indicator read at a moment its data is fresh, its value checked against a
computation straight from the department's own messages."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from services.api.app import create_app
from services.api.indicators.board import IndicatorBoard
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import CommonSettings
from tests.conftest import read_examples
from tests.integration.api.conftest import api_settings
from tests.integration.pipeline import all_committed, eventually, produce, running_worker
from tests.unit.api.indicators.test_definitions import REQUIRED as REQUIRED_INDICATORS

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Wall:
    client: httpx.AsyncClient
    clock: Clock
    board: IndicatorBoard

    async def moved_to(self, moment: datetime) -> None:
        """The clock moves on, and the board's next cadence refresh sees it."""
        self.clock.now = moment
        await self.board.refresh()


@pytest_asyncio.fixture(loop_scope="session")
async def wall(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> AsyncIterator[Wall]:
    async with running_worker(settings, feeds) as worker:
        for feed in feeds.values():
            messages = feed.examples_path.read_bytes().splitlines()
            await produce(settings, feed.feed, messages)
            await eventually(functools.partial(all_committed, worker, feed.feed, len(messages)))
    clock = Clock()
    # The cadence refresh is left to the tests (moved_to); new data still refreshes by NOTIFY.
    app = create_app(replace(api_settings(settings), indicator_refresh_s=3600), clock=clock)
    _, key = await issue_key(db, "reader", "wall")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ioc", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            yield Wall(client, clock, app.state.ioc.board)


async def _read(wall: Wall, indicator: str, at: str) -> Any:
    await wall.moved_to(datetime.fromisoformat(at))
    response = await wall.client.get(f"/v1/indicators/{indicator}")
    assert response.status_code == 200, response.text
    return response.json()


def _examples(feeds: dict[str, FeedDefinition], feed: str) -> list[dict[str, Any]]:
    return read_examples(feeds[feed].examples_path)


@pytest.mark.asyncio(loop_scope="session")
async def test_programme_indicators_give_the_reported_figures(wall: Any) -> None:
    # The programme as reported on 2025-09-18: 66 of 123 done, 38 of the 65 planned for 2025.
    at = "2025-09-18T12:00:00+00:00"
    rate = await _read(wall, "programme.completion_rate", at)
    assert (rate["value"], rate["unit"], rate["status"]) == (53.66, "%", "warning")
    assert rate["as_of"] == "2025-09-18T01:00:00Z"
    assert (await _read(wall, "programme.completion_rate_2025", at))["value"] == 58.46
    overdue = await _read(wall, "programme.overdue_tasks", at)
    assert (overdue["value"], overdue["status"]) == (0.0, "ok")


@pytest.mark.asyncio(loop_scope="session")
async def test_a_status_change_of_one_task_moves_them(
    wall: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    task = next(
        t
        for t in _examples(feeds, "programme-tasks")
        if t["nam_ke_hoach"] == 2025 and t["trang_thai"] == "dang_thuc_hien"
    )
    overdue = {**task, "trang_thai": "qua_han", "cap_nhat_luc": "2025-09-19T08:00:00+07:00"}
    async with running_worker(settings, feeds) as worker:
        committed = 123
        await produce(settings, "programme-tasks", [json.dumps(overdue).encode()])
        await eventually(lambda: all_committed(worker, "programme-tasks", committed + 1))
    at = "2025-09-19T12:00:00+00:00"
    assert (await _read(wall, "programme.overdue_tasks", at))["value"] == 1.0
    assert (await _read(wall, "programme.completion_rate_2025", at))["value"] == 58.46
    done = {**task, "trang_thai": "hoan_thanh", "cap_nhat_luc": "2025-09-20T08:00:00+07:00"}
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "programme-tasks", [json.dumps(done).encode()])
        await eventually(lambda: all_committed(worker, "programme-tasks", committed + 2))
    at = "2025-09-20T12:00:00+00:00"
    assert (await _read(wall, "programme.overdue_tasks", at))["value"] == 0.0
    assert (await _read(wall, "programme.completion_rate_2025", at))["value"] == round(
        100 * 39 / 65, 2
    )
    assert (await _read(wall, "programme.completion_rate", at))["value"] == round(100 * 67 / 123, 2)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_task_past_due_counts_as_overdue_though_reported_in_progress(
    wall: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    # The one rule of the scorecards and reminders: a unit cannot hide lateness by not
    # reporting it. 27 tasks of the 2025 plan are in progress, due 31/12/2025.
    assert (await _read(wall, "programme.overdue_tasks", "2025-12-31T16:59:00+00:00"))[
        "value"
    ] == 0.0  # 23:59 on 31/12 in the province: still due today
    assert (await _read(wall, "programme.overdue_tasks", "2025-12-31T17:00:00+00:00"))[
        "value"
    ] == 27.0  # 00:00 on 1/1/2026 in the province, though still 31/12 in UTC
    task = next(t for t in _examples(feeds, "programme-tasks") if t["nam_ke_hoach"] == 2026)
    late = {
        **task,
        "trang_thai": "dang_thuc_hien",
        "han_hoan_thanh": "2025-09-01",
        "cap_nhat_luc": "2025-09-19T08:00:00+07:00",
    }
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "programme-tasks", [json.dumps(late).encode()])
        await eventually(lambda: all_committed(worker, "programme-tasks", 124))
    at = "2025-09-19T12:00:00+00:00"
    assert (await _read(wall, "programme.overdue_tasks", at))["value"] == 1.0
    done = {**late, "trang_thai": "hoan_thanh", "cap_nhat_luc": "2025-09-20T08:00:00+07:00"}
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "programme-tasks", [json.dumps(done).encode()])
        await eventually(lambda: all_committed(worker, "programme-tasks", 125))
    assert (await _read(wall, "programme.overdue_tasks", at))["value"] == 0.0


@pytest.mark.asyncio(loop_scope="session")
async def test_staleness_flips_as_time_passes(wall: Any) -> None:
    # Salinity reports every 15 min; its newest reading is 25/11 07:45 local (00:45 UTC).
    fresh = await _read(wall, "salinity.max_ppt", "2026-11-25T01:00:00+00:00")
    assert (fresh["value"], fresh["status"]) == (19.8, "critical")
    stale = await _read(wall, "salinity.max_ppt", "2026-11-25T01:21:00+00:00")
    assert (stale["value"], stale["status"]) == (19.8, "stale")


@pytest.mark.asyncio(loop_scope="session")
async def test_every_other_required_indicator_matches_the_departments_messages(
    wall: Any, feeds: dict[str, FeedDefinition]
) -> None:
    dossiers = _examples(feeds, "admin-dossiers")
    on_time = sum(d["ho_so"]["dung_han"] for d in dossiers)
    resolved = sum(d["ho_so"]["da_giai_quyet"] for d in dossiers)
    rate = await _read(wall, "dossiers.on_time_rate_30d", "2026-11-26T00:00:00+00:00")
    assert rate["value"] == round(100 * on_time / resolved, 2)
    by_commune: dict[str, list[int]] = {}
    for d in dossiers:
        sums = by_commune.setdefault(d["don_vi"]["ma"], [0, 0])
        sums[0] += d["ho_so"]["dung_han"]
        sums[1] += d["ho_so"]["da_giai_quyet"]
    assert rate["breakdown"] == [
        {"code": code, "value": round(100 * a / b, 2)}
        for code, (a, b) in sorted(by_commune.items())
    ]

    latest_report: dict[str, dict[str, Any]] = {}
    for report in sorted(_examples(feeds, "citizen-feedback"), key=lambda r: r["thoi_gian"]):
        latest_report[report["ma_phan_anh"]] = report
    open_reports = [r for r in latest_report.values() if r["trang_thai"] != "da_xu_ly"]
    reports = await _read(wall, "feedback.open_reports", "2026-11-25T10:00:00+00:00")
    assert reports["value"] == float(len(open_reports))
    assert sum(item["value"] for item in reports["breakdown"]) == len(open_reports)

    latest_beds: dict[str, dict[str, Any]] = {}
    for report in sorted(_examples(feeds, "hospital-beds"), key=lambda r: r["thoi_diem"]):
        latest_beds[report["benh_vien"]["ma"]] = report
    inpatients = sum(r["dang_dieu_tri_noi_tru"] for r in latest_beds.values())
    planned = sum(r["giuong_ke_hoach"] for r in latest_beds.values())
    beds = await _read(wall, "hospital.bed_occupancy", "2026-11-25T18:00:00+00:00")
    assert beds["value"] == round(100 * inpatients / planned, 2)

    air = _examples(feeds, "air-quality")
    newest = max(a["timestamp"] for a in air)
    last_hour = [a["pm25_ugm3"] for a in air if a["timestamp"] == newest]
    pm25 = await _read(
        wall,
        "air.pm25_avg_1h",
        (datetime.fromisoformat(newest) + timedelta(minutes=30)).isoformat(),
    )
    assert pm25["value"] == round(sum(last_hour) / len(last_hour), 2)

    traffic = _examples(feeds, "traffic")
    end = max(t["epoch_ms"] for t in traffic)  # the last 15 minutes: the newest three intervals
    counted = [t for t in traffic if end - t["epoch_ms"] < 15 * 60 * 1000]
    vehicles = sum(lane["vehicles"] for t in counted for lane in t["lanes"])
    at = datetime.fromtimestamp(end / 1000, UTC).isoformat()
    assert (await _read(wall, "traffic.vehicles_15m", at))["value"] == float(vehicles)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_list_names_every_required_indicator_and_an_unknown_one_is_404(
    wall: Any,
) -> None:
    client = wall.client
    listing = (await client.get("/v1/indicators", params={"lang": "en"})).json()["indicators"]
    assert {i["id"] for i in listing} >= REQUIRED_INDICATORS
    assert next(i for i in listing if i["id"] == "salinity.max_ppt")["title"] == "Highest salinity"
    assert (await client.get("/v1/indicators/nope")).status_code == 404


@pytest.mark.asyncio(loop_scope="session")
async def test_the_etag_changes_exactly_when_the_answer_does(
    wall: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    client = wall.client
    await wall.moved_to(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    url = "/v1/indicators/salinity.max_ppt"
    first = await client.get(url)
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    again = await client.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)

    await wall.moved_to(wall.clock.now + timedelta(minutes=30))  # same data, now stale
    stale = await client.get(url, headers={"If-None-Match": etag})
    assert stale.status_code == 200
    assert stale.json()["status"] == "stale"
    assert stale.headers["ETag"] != etag

    saltier = {**_examples(feeds, "salinity")[-1], "thoi_gian": "25/11/2026 08:00"}
    saltier["do_man_phan_nghin"] = "25,5"
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", [json.dumps(saltier).encode()])
        await eventually(lambda: all_committed(worker, "salinity", 25))

    async def refreshed_by_the_workers_notify() -> bool:
        fresh = await client.get(url, headers={"If-None-Match": stale.headers["ETag"]})
        return fresh.status_code == 200 and bool(fresh.json()["value"] == 25.5)

    await eventually(refreshed_by_the_workers_notify, within_s=10)


@pytest.mark.asyncio(loop_scope="session")
async def test_feeds_show_which_departments_lag(wall: Any) -> None:
    client, clock = wall.client, wall.clock
    clock.now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 08:00 local on the examples' day
    feeds = {f["feed"]: f for f in (await client.get("/v1/feeds")).json()["feeds"]}
    assert feeds["salinity"]["status"] == "live"  # newest 07:45 local, every 15 min
    assert feeds["salinity"]["agency"] == "snnmt"
    assert feeds["salinity"]["last_event"] == "2026-11-25T00:45:00Z"
    assert feeds["programme-tasks"]["status"] == "silent"  # last heard in 2025-09
    clock.now = datetime(2026, 11, 25, 1, 20, tzinfo=UTC)
    feeds = {f["feed"]: f for f in (await client.get("/v1/feeds")).json()["feeds"]}
    assert feeds["salinity"]["status"] == "late"
    clock.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    feeds = {f["feed"]: f for f in (await client.get("/v1/feeds")).json()["feeds"]}
    assert feeds["salinity"]["status"] == "stale"


@pytest.mark.asyncio(loop_scope="session")
async def test_series_are_bucketed_from_rollups_or_observations(
    wall: Any, feeds: dict[str, FeedDefinition]
) -> None:
    client = wall.client
    window = {"from": "2026-11-25T06:00:00+07:00", "to": "2026-11-25T08:00:00+07:00"}
    salinity = _examples(feeds, "salinity")

    def highest(times: tuple[str, ...]) -> float:
        return max(
            float(s["do_man_phan_nghin"].replace(",", "."))
            for s in salinity
            if s["thoi_gian"].endswith(times)
        )

    hourly = await client.get(
        "/v1/indicators/salinity.max_ppt/series", params={**window, "interval": "1h"}
    )
    assert hourly.json()["points"] == [
        {"ts": "2026-11-24T23:00:00Z", "value": highest(("06:00", "06:15", "06:30", "06:45"))},
        {"ts": "2026-11-25T00:00:00Z", "value": highest(("07:00", "07:15", "07:30", "07:45"))},
    ]
    for interval in ("5m", "15m", "7m"):  # 5-minute rollups, then the observations themselves
        points = (
            await client.get(
                "/v1/indicators/salinity.max_ppt/series", params={**window, "interval": interval}
            )
        ).json()["points"]
        assert points[0]["value"] == highest(("06:00",))
        assert max(p["value"] for p in points) == highest(("",))
        # Buckets align on 2000-01-01 00:00 UTC: 7-minute ones start at 22:58 here.
        assert points[0]["ts"] == (
            "2026-11-24T22:58:00Z" if interval == "7m" else "2026-11-24T23:00:00Z"
        )

    dossiers = _examples(feeds, "admin-dossiers")
    first_day = [d for d in dossiers if d["ngay"] == "2026-11-23"]
    daily = await client.get(
        "/v1/indicators/dossiers.on_time_rate_30d/series",
        params={"from": "2026-11-22T00:00:00Z", "to": "2026-11-23T00:00:00Z", "interval": "1d"},
    )
    on_time = sum(d["ho_so"]["dung_han"] for d in first_day)
    resolved = sum(d["ho_so"]["da_giai_quyet"] for d in first_day)
    assert daily.json()["points"] == [
        {"ts": "2026-11-22T00:00:00Z", "value": round(100 * on_time / resolved, 2)}
    ]

    state = await client.get("/v1/indicators/programme.completion_rate/series")
    assert state.status_code == 404
    assert "has no series" in state.json()["detail"]
    bad = await client.get("/v1/indicators/salinity.max_ppt/series", params={"interval": "soon"})
    assert (bad.status_code, bad.json()["error"]) == (400, "bad_request")
    too_many = await client.get(
        "/v1/indicators/salinity.max_ppt/series",
        params={"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "interval": "1m"},
    )
    assert too_many.status_code == 400
    year_one = await client.get(  # the default window would start before year 1
        "/v1/indicators/salinity.max_ppt/series", params={"to": "0001-01-01T01:00:00Z"}
    )
    assert (year_one.status_code, year_one.json()["error"]) == (400, "bad_request")


def _canonical(feeds: dict[str, FeedDefinition], feed: str) -> list[dict[str, Any]]:
    return read_examples(feeds[feed].directory / "expected.ndjson")


def _latest_per_entity(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["ts"]):
        latest[row["entity"]] = row
    return latest


@pytest.mark.asyncio(loop_scope="session")
async def test_the_other_wall_indicators_match_the_canonical_data(
    wall: Any, feeds: dict[str, FeedDefinition]
) -> None:
    """Highest water level, AQI band, PM2.5 peak and readings, slowest traffic, late dossiers,
    open reports by field: each kind (latest max, window max/min/count/sum, state count by an
    attribute) against a count made here."""
    salinity = _latest_per_entity(_canonical(feeds, "salinity"))
    water = await _read(wall, "salinity.max_water_level_m", "2026-11-25T01:00:00+00:00")
    assert water["value"] == max(r["observations"]["water_level_m"] for r in salinity.values())
    assert {item["code"] for item in water["breakdown"]} == {
        r["attributes"]["commune"] for r in salinity.values()
    }

    air = _canonical(feeds, "air-quality")
    newest = max(r["ts"] for r in air)
    at = (datetime.fromisoformat(newest) + timedelta(minutes=30)).isoformat()
    last_hour = [r["observations"]["pm25"] for r in air if r["ts"] == newest]
    aqi = await _read(wall, "air.aqi_max", at)
    worst = max(r["observations"]["aqi"] for r in _latest_per_entity(air).values())
    expected_band = "critical" if worst >= 151 else "warning" if worst >= 101 else "ok"
    assert (aqi["value"], aqi["status"]) == (worst, expected_band)
    assert (await _read(wall, "air.pm25_peak_1h", at))["value"] == max(last_hour)
    assert (await _read(wall, "air.readings_1h", at))["value"] == float(len(last_hour))

    traffic = _canonical(feeds, "traffic")
    end = max(datetime.fromisoformat(r["ts"]) for r in traffic)
    window = [r for r in traffic if end - datetime.fromisoformat(r["ts"]) < timedelta(minutes=15)]
    slowest = await _read(wall, "traffic.lowest_speed_15m", end.isoformat())
    assert slowest["value"] == round(min(r["observations"]["avg_speed_kmh"] for r in window), 2)

    dossiers = _canonical(feeds, "admin-dossiers")
    day_end = max(datetime.fromisoformat(r["ts"]) for r in dossiers)  # the newest day's figures
    late = sum(
        r["observations"]["resolved_late"]
        for r in _latest_per_day(dossiers)
        if day_end - timedelta(days=1) < datetime.fromisoformat(r["ts"]) <= day_end
    )
    assert late > 0
    assert (await _read(wall, "dossiers.resolved_late_24h", day_end.isoformat()))["value"] == late

    reports = _latest_per_entity(_canonical(feeds, "citizen-feedback"))
    by_field: dict[str, int] = {}
    for report in reports.values():
        if report["observations"]["status"] != "resolved":
            by_field[report["attributes"]["field"]] = (
                by_field.get(report["attributes"]["field"], 0) + 1
            )
    open_by_field = await _read(wall, "feedback.open_by_field", "2026-11-25T10:00:00+00:00")
    assert open_by_field["value"] == float(sum(by_field.values()))
    assert open_by_field["breakdown"] == [
        {"code": field, "value": float(count)} for field, count in sorted(by_field.items())
    ]


def _latest_per_day(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A corrected day replaces its first figures: the last row per (entity, ts) counts."""
    return list({(r["entity"], r["ts"]): r for r in rows}.values())


@pytest.mark.asyncio(loop_scope="session")
async def test_a_known_keys_polls_take_the_kept_path_with_the_same_answers(wall: Any) -> None:
    """The first request (full path) finds the key; the next ones are answered from the board
    by the hot path: the same bodies and ETags, timed under the endpoint's template, while
    anything unusual still gets the endpoints' full answer."""
    client = wall.client
    await wall.moved_to(datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    route = {"route": "/v1/indicators", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("ioc_api_request_duration_seconds_count", route) or 0
    first = await client.get("/v1/indicators", params={"lang": "en"})
    second = await client.get("/v1/indicators", params={"lang": "en"})
    assert (second.content, second.headers["ETag"]) == (first.content, first.headers["ETag"])
    one = await client.get("/v1/indicators/salinity.max_ppt")
    assert one.json()["title"] == "Độ mặn cao nhất"
    assert REGISTRY.get_sample_value("ioc_api_request_duration_seconds_count", route) == before + 2
    unknown = {"Authorization": "Bearer not-a-key"}
    assert (await client.get("/v1/indicators", headers=unknown)).status_code == 401
    assert (await client.get("/v1/indicators", params={"lang": "fr"})).status_code == 422
    assert (await client.get("/v1/indicators/nope")).status_code == 404


@pytest.mark.parametrize(
    ("indicator", "feed", "metric", "of_bucket"),
    [
        ("air.pm25_peak_1h", "air-quality", "pm25", max),
        ("traffic.lowest_speed_15m", "traffic", "avg_speed_kmh", min),
        ("air.readings_1h", "air-quality", "pm25", len),
        ("traffic.vehicles_15m", "traffic", "vehicles", sum),
    ],
)
@pytest.mark.asyncio(loop_scope="session")
async def test_window_series_are_the_highest_lowest_count_or_sum_of_each_bucket(
    wall: Any,
    feeds: dict[str, FeedDefinition],
    indicator: str,
    feed: str,
    metric: str,
    of_bucket: Any,
) -> None:
    # Once every window kind's series but the mean and sum came out as a ratio (100.0).
    buckets: dict[str, list[float]] = {}
    for row in _canonical(feeds, feed):
        hour = datetime.fromisoformat(row["ts"]).replace(minute=0, second=0)
        buckets.setdefault(hour.isoformat().replace("+00:00", "Z"), []).append(
            row["observations"][metric]
        )
    response = await wall.client.get(
        f"/v1/indicators/{indicator}/series",
        params={"from": "2026-11-24T00:00:00Z", "to": "2026-11-26T00:00:00Z", "interval": "1h"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["points"] == [
        {"ts": hour, "value": round(float(of_bucket(values)), 2)}
        for hour, values in sorted(buckets.items())
    ]
