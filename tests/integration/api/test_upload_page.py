"""The upload page as a clerk uses it, in headless Chromium (Debian's) against a real API
process: the unit's key from the address, the feed chosen, its template downloaded, a workbook
with a bad row uploaded, that row named by its number in the receipt; in both languages.
Screenshots are kept in artifacts/ for a person to look at."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from openpyxl import Workbook, load_workbook
from playwright.async_api import Page, async_playwright

from services.api.app import create_app
from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.api.conftest import api_settings
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration

ARTIFACTS = REPO_ROOT / "artifacts"
# The report is of 1 December 2026 (local); the API's clock is pinned the day after, so the
# event-time bounds never depend on the day the suite runs.
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
DOSSIER_HEADERS = [
    "Ngày",
    "Mã đơn vị",
    "Tên đơn vị",
    "Số hồ sơ tiếp nhận",
    "Đã giải quyết",
    "Giải quyết đúng hạn",
    "Giải quyết trễ hạn",
    "Đang xử lý",
]


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


@contextlib.asynccontextmanager
async def _serving(settings: CommonSettings) -> AsyncIterator[str]:
    """The API on a port of its own in this process, its clock pinned at ``NOW``."""
    app = create_app(api_settings(settings), clock=lambda: NOW)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # it failed to start: say why
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def _ward_report(path: Path) -> Path:
    """A ward's report as a clerk types it, by openpyxl: a real date, codes typed as numbers,
    counts as number cells, and in row 3 a count typed as a word."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Báo cáo"
    sheet.append(DOSSIER_HEADERS)
    day = date(2026, 12, 1)
    sheet.append([day, 32002, "Phường An Xuyên", 40, 31, 29, 2, 9])
    sheet.append([day, 32005, "Phường Lý Văn Lâm", "nhiều", 20, 18, 2, 5])
    sheet.append([day, 32014, "Phường Tân Thành", 51, 47, 45, 2, 4])
    for row in (2, 3, 4):
        sheet.cell(row, 1).number_format = "dd/mm/yyyy"
    book.save(path)
    return path


async def _receipt_rows(page: Page) -> list[list[str]]:
    rows = page.locator("#rejected tbody tr")
    return [await row.locator("td").all_inner_texts() for row in await rows.all()]


async def _count(page: Page, name: str) -> str:
    return await page.inner_text(f'[data-count="{name}"] dd')


@pytest.mark.asyncio(loop_scope="session")
async def test_a_workbook_with_a_bad_row_is_answered_with_that_row_named_in_both_languages(
    settings: CommonSettings, db: Any, tmp_path: Path
) -> None:
    _, key = await issue_key(db, "agency", "tthcc")
    report = _ward_report(tmp_path / "bao-cao-01-12.xlsx")
    ARTIFACTS.mkdir(exist_ok=True)
    async with _serving(settings) as url, _browser_page() as page:
        await page.goto(f"{url}/upload#key={key}")
        await page.wait_for_selector('#feed option[value="admin-dossiers"]', state="attached")
        await page.select_option("#feed", "admin-dossiers")
        assert await page.is_disabled("#send")  # nothing chosen yet
        await page.set_input_files("#file", report)
        assert "bao-cao-01-12.xlsx" in await page.inner_text("#chosen")
        await page.click("#send")
        await page.wait_for_selector("body.receipt #rejected tbody tr")
        assert [await _count(page, n) for n in ("rows", "accepted", "rejected")] == ["3", "2", "1"]
        # The bad row named by its number as the spreadsheet shows it, its column and why.
        assert await _receipt_rows(page) == [["Báo cáo", "3", "D", "'nhiều' không phải là số"]]
        assert await page.locator('#rejected tr[data-row="3"]').count() == 1
        assert await page.inner_text("#error") == ""
        # The file went with its progress shown: the bar reached the whole file, then hid.
        assert await page.eval_on_selector("#progress", "bar => [bar.value, bar.hidden]") == [
            100,
            True,
        ]
        upload = await page.get_attribute("#receipt", "data-upload")
        await page.screenshot(path=ARTIFACTS / "upload-receipt.png", full_page=True)

        # The unit's uploads are listed; in English, the receipt shown is the one kept, in English.
        await page.wait_for_selector("#uploads tbody tr")
        received, *listed = await page.locator("#uploads tbody tr td").all_inner_texts()
        assert listed == ["bao-cao-01-12.xlsx", "3", "2", "1"]
        assert "10:00" in received  # 03:00 UTC, in Vietnam time
        assert "02/12/2026" in received
        await page.click("#lang")
        await page.wait_for_function(
            "document.querySelector('#rejected tbody td:last-child')?.textContent"
            " === \"'nhiều' is not a number\""
        )
        assert await page.locator("#rejected th").all_inner_texts() == [
            "Sheet",
            "Row",
            "Column",
            "Error",
        ]
        # The same file again, dropped on the page: the first upload's receipt, nothing new.
        dropped = await page.evaluate_handle(
            """([name, data]) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const transfer = new DataTransfer();
                transfer.items.add(new File([bytes], name));
                return transfer;
            }""",
            [report.name, base64.b64encode(report.read_bytes()).decode()],
        )
        await page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
        async with page.expect_response(
            lambda r: r.url.endswith("/uploads") and r.request.method == "POST"
        ) as answered:
            await page.click("#send")
        again = await answered.value
        assert again.status == 202
        assert str((await again.json())["upload"]) == upload
        assert (await again.request.all_headers())["accept-language"] == "en"
        await page.wait_for_function("!document.querySelector('#send').disabled")
        assert await page.get_attribute("#receipt", "data-upload") == upload
        assert await _receipt_rows(page) == [["Báo cáo", "3", "D", "'nhiều' is not a number"]]
        assert await page.locator("#uploads tbody tr").count() == 1
        await page.screenshot(path=ARTIFACTS / "upload-receipt-en.png", full_page=True)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_refused_upload_says_why_on_the_page(
    settings: CommonSettings, db: Any, tmp_path: Path
) -> None:
    _, key = await issue_key(db, "agency", "snnmt")  # salinity's agency, not the dossiers'
    report = _ward_report(tmp_path / "bao-cao.xlsx")
    async with _serving(settings) as url, _browser_page() as page:
        await page.goto(f"{url}/upload#key={key}")
        await page.wait_for_selector('#feed option[value="admin-dossiers"]', state="attached")
        await page.select_option("#feed", "admin-dossiers")
        await page.set_input_files("#file", report)
        await page.click("#send")
        await page.wait_for_selector("#error:not(:empty)")
        assert (await page.inner_text("#error")).startswith("Không gửi được: ")
        assert "admin-dossiers" in await page.inner_text("#error")
        assert not await page.is_visible("#receipt")
