"""/open-data/: the exported files served read-only without a key, for public feeds only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.open_data.export import export_days
from tests.integration.api.conftest import api_settings, serving
from tests.integration.conftest import db_connection
from tests.integration.open_data.test_export import DAYS
from tests.integration.pipeline import ingest_every_example

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def files(settings: CommonSettings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API serving the open-data files of ``tmp_path``."""
    async with serving(api_settings(dataclasses.replace(settings, open_data_dir=tmp_path))) as api:
        yield api


@pytest.mark.asyncio(loop_scope="session")
async def test_exported_files_are_served_without_a_key_and_only_for_public_feeds(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    db: Any,
    tmp_path: Path,
    files: httpx.AsyncClient,
) -> None:
    assert (await files.get("/open-data/catalogue.json")).json() == {"datasets": []}
    await ingest_every_example(settings, feeds)
    public = [name for name, feed in feeds.items() if feed.public]
    async with db_connection(db) as connection:
        await export_days(connection, feeds["salinity"], *DAYS, tmp_path, public, lambda *_: None)

    catalogue = (await files.get("/open-data/catalogue.json")).json()
    [first, *_] = catalogue["datasets"]
    csv = await files.get(f"/open-data/{first['files']['csv']['path']}")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content == (tmp_path / first["files"]["csv"]["path"]).read_bytes()
    parquet = await files.get(f"/open-data/{first['files']['parquet']['path']}")
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"

    # A file of a feed that is not public, even one put there by hand, is not served; nor is
    # anything but an export's own files.
    (tmp_path / "hospital-beds").mkdir()
    (tmp_path / "hospital-beds" / "2026-11-25.csv").write_text("secret\n")
    for path in (
        "/open-data/hospital-beds/2026-11-25.csv",
        "/open-data/salinity/2026-11-25.txt",
        "/open-data/salinity/..%2Fcatalogue.json",
        "/open-data/salinity/2030-01-01.csv",
        "/open-data/nope/2026-11-25.csv",
    ):
        assert (await files.get(path)).status_code == 404, path
    assert (await files.post("/open-data/salinity/2026-11-25.csv")).status_code == 405
