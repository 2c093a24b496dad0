"""The templates as the API serves them: who may download one, what it is, and the page that
offers them."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    client: httpx.AsyncClient, db: Any
) -> None:
    _, key = await issue_key(db, "agency", "tthcc")
    answer = await client.get(
        "/v1/feeds/admin-dossiers/template.xlsx",
        headers={"Authorization": f"Bearer {key}", "Accept-Language": "en"},
    )
    guide = load_workbook(io.BytesIO(answer.content)).worksheets[1]
    assert guide["A1"].value == "How to fill in the template"


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
