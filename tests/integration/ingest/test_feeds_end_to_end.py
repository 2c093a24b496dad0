"""Every example of every department feed, through the real broker and worker, lands in the
store with exactly its checked canonical values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from tests.integration.pipeline import ingest_every_example

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_every_example_ingests_to_its_exact_canonical_values(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    expected: dict[tuple[str, str, str, str], object] = {}
    for feed in feeds.values():
        for line in (feed.directory / "expected.ndjson").read_text(encoding="utf-8").splitlines():
            canonical = json.loads(line)
            for metric, value in canonical["observations"].items():
                expected[(feed.feed, canonical["entity"], metric, canonical["ts"])] = value

    await ingest_every_example(settings, feeds)

    rows = await db.fetch(
        "SELECT feed, entity, metric, ts, value::text AS value, true AS numeric FROM observations"
        " UNION ALL SELECT feed, entity, metric, ts, value, false FROM states"
    )
    stored = {
        (r["feed"], r["entity"], r["metric"], r["ts"].isoformat()): (
            float(r["value"]) if r["numeric"] else r["value"]
        )
        for r in rows
    }
    assert len(rows) == len(stored)
    assert stored == expected
    assert await db.fetchval("SELECT count(*) FROM rejections") == 0
