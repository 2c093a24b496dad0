"""GET /v1/feeds/{feed}/rejections, and replaying the quarantine after a mapping fix."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.db import create_pool
from services.common.feeds import FeedDefinition, load_feeds
from services.common.intake.feed_intake import FeedIntake
from services.common.kafka import producing
from services.common.keys import issue_key
from services.common.settings import CommonSettings
from services.ingest.replay import replay_rejections
from tests.integration.ingest.test_worker import SALINITY_FIRST
from tests.integration.pipeline import (
    all_committed,
    eventually,
    produce,
    read_topic,
    running_worker,
)

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_quarantined_records_are_served_with_reason_and_bytes_to_their_readers(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any, client: httpx.AsyncClient
) -> None:
    await produce(settings, "salinity", [b"\xff\xfe", b'{"ma_tram": 1}', SALINITY_FIRST])
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 3))

    _, owner_key = await issue_key(db, "agency", "snnmt")
    owner = {"Authorization": f"Bearer {owner_key}"}
    response = await client.get("/v1/feeds/salinity/rejections", params={"limit": 1}, headers=owner)
    assert response.status_code == 200
    page = response.json()
    assert [
        (r["offset"], r["reason"], r["raw"], r["raw_encoding"]) for r in page["rejections"]
    ] == [(1, "schema: (message): 'thoi_gian' is a required property", '{"ma_tram": 1}', "utf-8")]
    older = await client.get(
        "/v1/feeds/salinity/rejections", params={"before": page["next_before"]}, headers=owner
    )
    assert [(r["offset"], r["raw"], r["raw_encoding"]) for r in older.json()["rejections"]] == [
        (0, "//4=", "base64")
    ]
    assert older.json()["next_before"] is None
    past_bigint = await client.get(  # found by schemathesis: once a 500 from the database
        "/v1/feeds/salinity/rejections", params={"before": 2**63}, headers=owner
    )
    assert past_bigint.status_code == 422

    _, other_key = await issue_key(db, "agency", "syt")
    other = {"Authorization": f"Bearer {other_key}"}
    assert (await client.get("/v1/feeds/salinity/rejections", headers=other)).status_code == 403


@pytest.mark.asyncio(loop_scope="session")
async def test_replay_after_a_mapping_fix_ingests_the_quarantined_records(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any, tmp_path: Path
) -> None:
    salty = SALINITY_FIRST.replace(b'"9,2"', b'"72,5"')  # beyond the 60 ‰ the mapping allowed
    await produce(settings, "salinity", [salty])
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 1))
    assert await db.fetchval("SELECT reason FROM rejections") == (
        "mapping: salinity_ppt = 72.5 ‰ is outside [0, 60]"
    )

    fixed = _with_salinity_bound(tmp_path, 100)
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        async with producing(settings.kafka) as producer:
            intake = FeedIntake.of(feeds["salinity"])
            assert await replay_rejections(pool, producer, settings.topics, intake) == 1
    finally:
        await pool.close()
    assert await db.fetchval("SELECT count(*) FROM rejections") == 0
    # Keyed by its entity, as the push and the simulator key it: on its entity's partition.
    records = await read_topic(settings.kafka, settings.topics.raw("salinity"), 2)
    [replayed] = [r for r in records if "replay_of" in dict(r.headers)]
    assert replayed.key == b"CM-SAL-01"

    async with running_worker(replace(settings, schemas_dir=tmp_path), fixed) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 2))
    assert await db.fetchval("SELECT value FROM observations WHERE metric = 'salinity_ppt'") == 72.5


def _with_salinity_bound(schemas_dir: Path, high: int) -> dict[str, FeedDefinition]:
    shutil.copytree(Path(__file__).parents[3] / "schemas", schemas_dir, dirs_exist_ok=True)
    definition = schemas_dir / "feeds" / "salinity" / "feed.yaml"
    definition.write_text(
        definition.read_text(encoding="utf-8").replace("bounds: [0, 60]", f"bounds: [0, {high}]"),
        encoding="utf-8",
    )
    return load_feeds(schemas_dir)
