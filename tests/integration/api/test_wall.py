"""The wall page as a person sees it, in headless Chromium (Debian's) against a real API
process: every indicator as a tile, a stale feed shown as stale, an update arriving live, the
English toggle, and a clear "connection lost" when the API goes away; the units to remind and
the ranking of units (leaders and laggards of each kind), in both languages. Screenshots are
kept in artifacts/ for a person to look at."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from services.api.indicators.definitions import load_indicators
from services.api.pages.endpoints import SCRIPT
from services.api.wall.endpoints import PAGE
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.province import province_day
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.messages import air_reading, salinity_reading
from tests.integration.pipeline import Ingest, eventually
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration

ARTIFACTS = REPO_ROOT / "artifacts"


@contextlib.asynccontextmanager
async def _browser_page(timezone_id: str | None = None) -> AsyncIterator[Page]:
    """A page of Debian's Chromium; in ``timezone_id``'s zone where given (else the host's)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: `make tools` installs Debian's chromium package")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield await browser.new_page(
                viewport={"width": 1920, "height": 1080}, timezone_id=timezone_id
            )
        finally:
            await browser.close()


async def _tile(page: Page, indicator: str) -> dict[str, str]:
    tile = page.locator(f'.tile[data-id="{indicator}"]')
    return {
        "status": await tile.get_attribute("data-status") or "",
        "value": await tile.locator(".value").inner_text(),
        "status_text": await tile.locator(".status").inner_text(),
        "title": await tile.locator(".title").inner_text(),
    }


@pytest.mark.asyncio(loop_scope="session")
async def test_the_wall_shows_the_indicators_live_and_says_what_is_stale_or_lost(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    now = datetime.now(UTC)
    # Salinity reports every 15 minutes: an hour old, it is stale. Air quality: fresh.
    ingest = Ingest(settings, feeds)
    await ingest(
        {
            "salinity": [salinity_reading(now - timedelta(hours=1), "9,2")],
            "air-quality": [air_reading(now)],
        }
    )
    _, key = await issue_key(db, "reader", "wall")
    indicators = load_indicators(settings.schemas_dir, feeds)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(settings, IOC_INDICATOR_REFRESH_S="1", IOC_FRESHNESS_REFRESH_S="1")
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        api = await asyncio.to_thread(
            stack.enter_context,
            running_service(["api", "--port", str(port)], env, f"{url}/healthz"),
        )
        async with _browser_page() as page:
            await page.goto(f"{url}/wall#key={key}")
            await page.wait_for_function(
                f"document.querySelectorAll('.tile').length === {len(indicators)}"
            )
            assert "#key" not in page.url  # the key leaves the address bar at once
            salinity = await _tile(page, "salinity.max_ppt")
            assert salinity == {
                "status": "stale",
                "value": "9,2",  # Vietnamese by default: a decimal comma
                "status_text": "DỮ LIỆU CŨ",
                "title": "Độ mặn cao nhất",
            }
            air = await _tile(page, "air.pm25_avg_1h")
            assert (air["status"], air["value"]) == ("ok", "22,4")
            await page.wait_for_selector('.feed[data-feed="salinity"][data-status="stale"]')
            await page.wait_for_selector("#live.live")  # on server-sent events
            await page.screenshot(path=ARTIFACTS / "wall.png", full_page=True)

            await ingest({"salinity": [salinity_reading(now, "21,5")]})
            await page.wait_for_selector(
                '.tile[data-id="salinity.max_ppt"][data-status="critical"]', timeout=20_000
            )
            salinity = await _tile(page, "salinity.max_ppt")
            assert (salinity["value"], salinity["status_text"]) == ("21,5", "NGUY CẤP")
            await page.screenshot(path=ARTIFACTS / "wall-live-update.png", full_page=True)

            await page.click("#lang")
            await page.wait_for_function(
                "document.querySelector('.tile[data-id=\"salinity.max_ppt\"] .title')"
                ".textContent === 'Highest salinity'"
            )
            assert (await _tile(page, "salinity.max_ppt"))["value"] == "21.5"

            api.terminate()  # the API goes away: the wall must say so, not freeze quietly
            await page.wait_for_selector("body.lost #banner", timeout=30_000)
            assert "lost" in (await page.inner_text("#banner")).lower()
            await page.screenshot(path=ARTIFACTS / "wall-connection-lost.png", full_page=True)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_wall_shows_the_units_to_remind_and_the_ranking_in_both_languages(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    # The Public Service Centre's daily figures stop days ago; a health task is overdue.
    dossiers = feeds["admin-dossiers"].examples_path.read_bytes().splitlines()
    overdue = (
        '{"ma_nhiem_vu": "T-SYT-9", "noi_dung": "Bệnh án điện tử", "nam_ke_hoach": 2026, '
        '"han_hoan_thanh": "2026-11-01", "trang_thai": "dang_thuc_hien", '
        '"cap_nhat_luc": "2026-10-01T08:00:00+07:00", "don_vi_chu_tri": "Sở Y tế"}'
    ).encode()
    await Ingest(settings, feeds)({"admin-dossiers": dossiers, "programme-tasks": [overdue]})
    # The IOC scored the department yesterday too: a missed deadline's evidence is two days.
    await db.execute(
        "INSERT INTO unit_scores (unit, day) VALUES ('tthcc', $1)",
        province_day(datetime.now(UTC)) - timedelta(days=1),
    )
    _, key = await issue_key(db, "reader", "wall")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(settings, IOC_REMINDERS_EVERY_S="1", IOC_REMINDERS_DELIVER_EVERY_S="3600")
    headers = {"Authorization": f"Bearer {key}"}
    with running_service(["api", "--port", str(port)], env, f"{url}/healthz"):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:

            async def evaluated() -> bool:
                listed = await http.get("/v1/reminders", params={"status": "unresolved"})
                return bool(listed.json()["reminders"])

            await eventually(evaluated)
            reminders = (
                await http.get("/v1/reminders", params={"status": "unresolved", "limit": 1000})
            ).json()["reminders"]
            ranking = (await http.get("/v1/units/ranking")).json()
        async with _browser_page() as page:
            await page.goto(f"{url}/wall#key={key}")
            await page.wait_for_selector("#ranking ol.leaders li[data-unit]")
            units = {r["unit"] for r in reminders}
            assert await page.inner_text("#remind .value") == str(len(units))
            causes = await page.locator("#remind .causes li").all_inner_texts()
            assert "Chậm gửi số liệu quá thời hạn hai ngày liên tiếp: 1" in causes
            leaders = page.locator("#ranking ol.leaders li")
            assert [await li.get_attribute("data-unit") for li in await leaders.all()] == [
                u["unit"] for u in ranking["leaders"]
            ]
            # Leaders and laggards of each kind, under its name, each numbered by its place.
            kinds = page.locator("#ranking ol.leaders")
            assert (
                [await ol.get_attribute("data-kind") for ol in await kinds.all()]
                == list(dict.fromkeys(u["kind"] for u in ranking["leaders"]))
                == ["department", "commune"]
            )
            assert await page.locator("#ranking div.leaders h4").all_inner_texts() == [
                "Sở, ban, ngành",
                "Xã, phường",
            ]
            assert [await li.get_attribute("value") for li in await leaders.all()] == [
                str(u["rank"]) for u in ranking["leaders"]
            ]
            first = ranking["leaders"][0]
            shown = await leaders.first.inner_text()
            assert shown.startswith(first["name"])
            assert f"{round(first['score'] * 100)}%" in shown
            laggards = page.locator("#ranking ol.laggards li")
            assert [await li.get_attribute("data-unit") for li in await laggards.all()] == [
                u["unit"] for u in ranking["laggards"]
            ]
            await page.screenshot(path=ARTIFACTS / "wall-units.png", full_page=True)

            await page.click("#lang")
            await page.wait_for_function(
                "document.querySelector('#remind .title').textContent === 'Units to remind'"
            )
            assert (await leaders.first.inner_text()).startswith(first["name_en"])
            assert await page.locator("#ranking div.leaders h4").all_inner_texts() == [
                "Departments",
                "Communes and wards",
            ]
            assert "Figures missing past the deadline two days running: 1" in (
                await page.locator("#remind .causes li").all_inner_texts()
            )


@pytest.mark.asyncio(loop_scope="session")
async def test_the_walls_clock_shows_the_provinces_time_whatever_the_screens_zone() -> None:
    # 08:05 in Cà Mau is 20:05 of the day before on a screen set to New York's time.
    moment = datetime(2026, 11, 27, 1, 5, tzinfo=UTC)
    async with _browser_page(timezone_id="America/New_York") as page:
        await page.clock.set_fixed_time(moment)
        await page.route(
            "http://wall.test/wall",
            lambda route: route.fulfill(body=PAGE, content_type="text/html; charset=utf-8"),
        )
        await page.route(
            "http://wall.test/static/pages.js",
            lambda route: route.fulfill(body=SCRIPT, content_type="text/javascript"),
        )
        await page.goto("http://wall.test/wall")  # the page as GET /wall serves it
        assert await page.evaluate("new Date().getHours()") == 20  # the screen's own zone
        await page.wait_for_function("document.getElementById('clock').textContent !== ''")
        assert await page.inner_text("#clock") == "08:05"
