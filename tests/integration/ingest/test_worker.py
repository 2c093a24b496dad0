"""The worker against the real broker and database: examples in, canonical rows out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from tests.integration.pipeline import (
    all_committed,
    eventually,
    produce,
    read_topic,
    running_worker,
)

pytestmark = pytest.mark.integration

SALINITY_FIRST = json.dumps(
    {
        "ma_tram": "CM-SAL-01",
        "ten_tram": "Cống Cái Đôi Vàm",
        "thoi_gian": "25/11/2026 06:00",
        "do_man_phan_nghin": "9,2",
        "muc_nuoc_cm": 107,
        "xa_phuong_ma": "32150",
    },
    ensure_ascii=False,
).encode()


async def _count(db: Any, sql: str) -> int:
    value: int = await db.fetchval(sql)
    return value


@pytest.mark.asyncio(loop_scope="session")
async def test_salinity_examples_arrive_with_canonical_values(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    await produce(settings, "salinity", examples)

    async with running_worker(settings, feeds):
        await eventually(lambda: _has_rows(db, 2 * len(examples)))

    first = await db.fetch(
        "SELECT metric, ts, value FROM observations WHERE entity = 'CM-SAL-01' "
        "ORDER BY ts, metric LIMIT 2"
    )
    # 25/11/2026 06:00 in Asia/Ho_Chi_Minh is 24/11 23:00 UTC; "9,2" ‰; 107 cm is 1.07 m.
    assert [(r["metric"], r["ts"].isoformat(), r["value"]) for r in first] == [
        ("salinity_ppt", "2026-11-24T23:00:00+00:00", 9.2),
        ("water_level_m", "2026-11-24T23:00:00+00:00", 1.07),
    ]
    latest = await db.fetchrow(
        "SELECT ts, value FROM latest WHERE entity = 'CM-SAL-07' AND metric = 'salinity_ppt'"
    )
    assert (latest["ts"].isoformat(), latest["value"]) == ("2026-11-25T00:45:00+00:00", 19.8)
    attributes = await db.fetchval("SELECT attributes FROM entities WHERE entity = 'CM-SAL-01'")
    assert json.loads(attributes) == {"commune": "32150", "name": "Cống Cái Đôi Vàm"}


async def _has_rows(db: Any, expected: int) -> bool:
    return await _count(db, "SELECT count(*) FROM observations") >= expected


@pytest.mark.asyncio(loop_scope="session")
async def test_identical_messages_give_one_row(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    await produce(settings, "salinity", [SALINITY_FIRST] * 3)

    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 3))

    assert await _count(db, "SELECT count(*) FROM observations") == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_bad_bytes_are_quarantined_and_later_records_flow(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    later = SALINITY_FIRST.replace(b"06:00", b"06:15")
    await produce(settings, "salinity", [b"\xff not json", SALINITY_FIRST, later])

    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 3))

    assert await _count(db, "SELECT count(*) FROM observations") == 4

    rejection = await db.fetchrow('SELECT feed, partition, "offset", reason, raw FROM rejections')
    assert dict(rejection) == {
        "feed": "salinity",
        "partition": 0,
        "offset": 0,
        "reason": "decode: not UTF-8 text",
        "raw": b"\xff not json",
    }
    [dead_letter] = await read_topic(settings.kafka_bootstrap, settings.topics.dlq, 1)
    assert dead_letter.value == b"\xff not json"
    assert dict(dead_letter.headers) == {
        "reason": b"decode: not UTF-8 text",
        "feed": b"salinity",
        "source_topic": settings.topics.raw("salinity").encode(),
        "source_partition": b"0",
        "source_offset": b"0",
    }
