"""The upload page as a clerk uses it, in headless Chromium (Debian's) against a real API
process: the unit's key from the address, the feed chosen, its template downloaded, a workbook
with a bad row uploaded, that row named by its number in the receipt; in both languages.
Screenshots are kept in artifacts/ for a person to look at."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, async_playwright

from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration

ARTIFACTS = REPO_ROOT / "artifacts"


@contextlib.asynccontextmanager
async def _browser_page() -> AsyncIterator[Page]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: `make tools` installs Debian's chromium package")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 1000}, accept_downloads=True
            )
            yield await context.new_page()
        finally:
            await browser.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_clerk_chooses_the_feed_and_downloads_its_template(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    _, key = await issue_key(db, "agency", "tthcc")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        await asyncio.to_thread(
            stack.enter_context,
            running_service(["api", "--port", str(port)], service_env(settings), f"{url}/healthz"),
        )
        async with _browser_page() as page:
            await page.goto(f"{url}/upload#key={key}")
            await page.wait_for_selector('#feed option[value="admin-dossiers"]', state="attached")
            assert "#key" not in page.url  # the key leaves the address bar at once
            assert await page.inner_text("#heading") == "Gửi báo cáo bằng bảng tính"
            options = await page.locator("#feed option").evaluate_all(
                "options => options.map(o => o.value)"
            )
            assert options == sorted(feeds)
            await page.select_option("#feed", "admin-dossiers")
            async with page.expect_download() as downloading:
                await page.click("#template")
            download = await downloading.value
            assert download.suggested_filename == "bieu-mau-admin-dossiers.xlsx"
            path = await download.path()
            sheet = load_workbook(io.BytesIO(path.read_bytes())).worksheets[0]
            assert [c.value for c in sheet[1]] == [
                f.title for f in fields_of(feeds["admin-dossiers"])
            ]
            await page.screenshot(path=ARTIFACTS / "upload-page.png", full_page=True)

            await page.click("#lang")
            assert await page.inner_text("#heading") == "Upload a spreadsheet report"
            await page.reload()  # the key and the language are kept in the page
            await page.wait_for_selector('#feed option[value="admin-dossiers"]', state="attached")
            assert await page.inner_text("#heading") == "Upload a spreadsheet report"
            assert await page.input_value("#feed") == "admin-dossiers"  # the feed chosen last
