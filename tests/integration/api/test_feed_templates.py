"""The templates as the API serves them: who may download one, what it is, and the page that
offers them."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from openpyxl import load_workbook

from services.api.app import create_app
from services.api.feed_templates.workbook import GUIDE_SHEET
from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import CommonSettings
from services.common.units import load_units
from tests.conftest import SCHEMAS_DIR, read_examples
from tests.integration.api.conftest import api_settings
from tests.integration.pipeline import read_topic

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FEEDS = sorted(path.parent.name for path in (SCHEMAS_DIR / "feeds").glob("*/feed.yaml"))
# The API's clock, pinned after every feed's first example (the latest: 25 November 2026), so
# the event-time bounds never depend on the day the suite runs.
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def pinned(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings(settings), clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            yield client


@pytest.mark.asyncio(loop_scope="session")
async def test_every_key_downloads_every_feeds_template(
    client: httpx.AsyncClient, db: Any, feeds: dict[str, FeedDefinition]
) -> None:
    _, reader = await issue_key(db, "reader", "wall")
    _, commune = await issue_key(db, "agency", "32002")  # owns no feed
    for key in (reader, commune):
        for name, feed in feeds.items():
            answer = await client.get(
                f"/v1/feeds/{name}/template.xlsx", headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200, (name, answer.text)
            assert answer.headers["content-type"] == XLSX
            assert answer.headers["content-disposition"] == (
                f'attachment; filename="bieu-mau-{name}.xlsx"'
            )
            sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
            assert [cell.value for cell in sheet[1]] == [f.title for f in fields_of(feed)]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_template_needs_a_key_and_a_known_feed(client: httpx.AsyncClient, db: Any) -> None:
    assert (await client.get("/v1/feeds/salinity/template.xlsx")).status_code == 401
    _, key = await issue_key(db, "agency", "snnmt")
    unknown = await client.get(
        "/v1/feeds/no-such-feed/template.xlsx", headers={"Authorization": f"Bearer {key}"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"


@pytest.mark.asyncio(loop_scope="session")
async def test_the_instructions_come_in_english_when_asked(
    client: httpx.AsyncClient, db: Any, feeds: dict[str, FeedDefinition]
) -> None:
    units = load_units(SCHEMAS_DIR, feeds)
    _, key = await issue_key(db, "agency", "tthcc")
    answer = await client.get(
        "/v1/feeds/admin-dossiers/template.xlsx",
        headers={"Authorization": f"Bearer {key}", "Accept-Language": "en"},
    )
    guide = load_workbook(io.BytesIO(answer.content)).worksheets[1]
    assert guide["A1"].value == "How to fill in the template"
    # The owning agency by its unit file's name (schemas/units/tthcc.yaml), in English.
    assert (guide["A4"].value, guide["B4"].value) == (
        "Owning agency",
        f"{units.by_code['tthcc'].name_en} (tthcc)",
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_the_upload_page_is_served_whole_with_nothing_from_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/upload")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    # The IOC's network is closed: no script, style or font fetched from another host.
    for marker in ('src="http', "src='http", 'href="http', "@import", "url(http"):
        assert marker not in page.text
    assert "/v1/feeds/${encodeURIComponent(feed)}/uploads" in page.text


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("name", FEEDS)
async def test_a_template_uploaded_as_downloaded_sends_its_example_with_no_rejection(
    pinned: httpx.AsyncClient,
    db: Any,
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    name: str,
) -> None:
    feed = feeds[name]
    _, key = await issue_key(db, "agency", feed.agency)
    headers = {"Authorization": f"Bearer {key}"}
    template = await pinned.get(f"/v1/feeds/{name}/template.xlsx", headers=headers)
    assert template.status_code == 200
    answer = await pinned.post(
        f"/v1/feeds/{name}/uploads",
        headers=headers,
        files={"file": (f"bieu-mau-{name}.xlsx", template.content, XLSX)},
    )
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert receipt["rejected"] == []
    assert (receipt["rows"], receipt["accepted"], receipt["produced"]) == (1, 1, 1)
    # Only the instructions sheet is set aside, as a sheet without a header row.
    assert [(part["sheet"], part["row"], part["column"]) for part in receipt["ignored"]] == [
        (GUIDE_SHEET, None, None)
    ]
    # The row sent is the feed's first example (a list's first element: a row is one message).
    (record,) = await read_topic(settings.kafka, settings.topics.raw(name), 1)
    example = read_examples(feed.examples_path)[0]
    for field in fields_of(feed):
        if "[]" in field.path:
            outer = field.path.partition("[]")[0]
            example[outer] = example[outer][:1]
    assert json.loads(record.value) == example
