"""The worker against the real broker and database: examples in, canonical rows out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.topics import RAW_PARTITIONS
from services.ingest.settings import WorkerSettings
from tests.integration.messages import salinity_stream
from tests.integration.pipeline import (
    TEST_NOW,
    all_committed,
    committed_records,
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
    assert json.loads(attributes) == {
        "commune": "32150",
        "name": "Cống Cái Đôi Vàm",
        "lat": "8.8571",
        "lon": "104.8123",
    }


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
    [dead_letter] = await read_topic(settings.kafka, settings.topics.dlq, 1)
    assert dead_letter.value == b"\xff not json"
    assert dict(dead_letter.headers) == {
        "reason": b"decode: not UTF-8 text",
        "feed": b"salinity",
        "source_topic": settings.topics.raw("salinity").encode(),
        "source_partition": b"0",
        "source_offset": b"0",
    }


@pytest.mark.asyncio(loop_scope="session")
async def test_records_the_store_cannot_hold_are_quarantined_and_the_worker_goes_on(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    # Valid JSON, valid to their departments' schemas, but PostgreSQL text and jsonb cannot hold
    # a NUL. Let through, such a record would fail its batch on every retry: the worker stalled.
    reading = json.loads(SALINITY_FIRST)
    nul_id = json.dumps({**reading, "ma_tram": "CM-SAL\u0000"}).encode()
    # Nor can text encoded to UTF-8 hold half of a surrogate pair, which JSON's escapes can name.
    lone_surrogate = json.dumps({**reading, "ma_tram": "CM-SAL\ud800"}).encode()
    await produce(settings, "salinity", [nul_id, lone_surrogate, SALINITY_FIRST])
    report = json.loads(feeds["citizen-feedback"].examples_path.read_text().splitlines()[0])
    nul_attribute = json.dumps({**report, "linh_vuc": "giao_thong\u0000"}).encode()
    await produce(settings, "citizen-feedback", [nul_attribute])

    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 3))
        await eventually(lambda: all_committed(worker, "citizen-feedback", 1))

    assert await _count(db, "SELECT count(*) FROM observations") == 2  # the good reading
    rejections = await db.fetch('SELECT reason FROM rejections ORDER BY feed, "offset"')
    assert [row["reason"] for row in rejections] == [
        "mapping: linh_vuc contains a NUL character (U+0000), which cannot be stored",
        "mapping: ma_tram contains a NUL character (U+0000), which cannot be stored",
        "decode: not JSON (no low surrogate in string at line 1 column 20)",
    ]


def _dossiers(day: str, resolved: int, on_time: int) -> bytes:
    return json.dumps(
        {
            "ngay": day,
            "don_vi": {"ma": "32002", "ten": "Phường An Xuyên"},
            "ho_so": {
                "tiep_nhan": 100,
                "da_giai_quyet": resolved,
                "dung_han": on_time,
                "tre_han": resolved - on_time,
                "dang_xu_ly": 100 - resolved,
            },
        }
    ).encode()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_corrected_day_gives_the_corrected_figures_once(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    first, corrected = _dossiers("2026-11-24", 80, 70), _dossiers("2026-11-24", 90, 85)
    # The correction arrives in a later batch as well as in the same one.
    await produce(settings, "admin-dossiers", [first, corrected])
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "admin-dossiers", 2))
        await produce(settings, "admin-dossiers", [first, corrected])
        await eventually(lambda: all_committed(worker, "admin-dossiers", 4))

    rows = await db.fetch(
        "SELECT metric, ts, value FROM observations WHERE metric LIKE 'resolved%' ORDER BY metric"
    )
    assert [(r["metric"], r["ts"].isoformat(), r["value"]) for r in rows] == [
        ("resolved", "2026-11-23T17:00:00+00:00", 90.0),
        ("resolved_late", "2026-11-23T17:00:00+00:00", 5.0),
        ("resolved_on_time", "2026-11-23T17:00:00+00:00", 85.0),
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_late_record_leaves_the_latest_value_alone(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    newer = SALINITY_FIRST.replace(b"06:00", b"07:00").replace(b'"9,2"', b'"15,0"')
    async with running_worker(settings, feeds) as worker:
        await produce(settings, "salinity", [newer])
        await eventually(lambda: all_committed(worker, "salinity", 1))
        await produce(settings, "salinity", [SALINITY_FIRST])  # an hour older, arriving later
        await eventually(lambda: all_committed(worker, "salinity", 2))

    latest = await db.fetchrow(
        "SELECT ts, value FROM latest WHERE entity = 'CM-SAL-01' AND metric = 'salinity_ppt'"
    )
    assert (latest["ts"].isoformat(), latest["value"]) == ("2026-11-25T00:00:00+00:00", 15.0)
    assert await _count(db, "SELECT count(*) FROM observations WHERE metric = 'salinity_ppt'") == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_a_future_dated_record_is_quarantined_and_never_pins_the_latest_value(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    # TEST_NOW is 2026-11-26 00:00 UTC: a reading for 26/11 09:00 local is two hours ahead.
    future = SALINITY_FIRST.replace(b"25/11/2026 06:00", b"26/11/2026 09:00")
    later = SALINITY_FIRST.replace(b"06:00", b"06:15")
    await produce(settings, "salinity", [future, SALINITY_FIRST, later])
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", 3))

    reason = await db.fetchval("SELECT reason FROM rejections")
    assert reason == (
        "time: 2026-11-26T02:00:00+00:00 is 120 min ahead of the IOC clock (at most 5 min allowed)"
    )
    latest = await db.fetchval(
        "SELECT ts FROM latest WHERE entity = 'CM-SAL-01' AND metric = 'salinity_ppt'"
    )
    assert latest.isoformat() == "2026-11-24T23:15:00+00:00"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_wholly_bad_feed_is_halted_while_the_others_flow(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    garbage = [b"<html>502 Bad Gateway</html>"] * 30
    air = feeds["air-quality"].examples_path.read_bytes().splitlines()
    async with running_worker(
        settings, feeds, invalid_ratio_window=10, invalid_ratio_limit=0.9
    ) as worker:
        await produce(settings, "salinity", garbage[:10])
        await eventually(lambda: all_committed(worker, "salinity", 10))
        await produce(settings, "salinity", [*garbage, SALINITY_FIRST])
        await produce(settings, "air-quality", air)
        await eventually(lambda: all_committed(worker, "air-quality", len(air)))
        # Give the halted feed every chance to be (wrongly) consumed before looking.
        await produce(settings, "air-quality", air)
        await eventually(lambda: all_committed(worker, "air-quality", 2 * len(air)))
        assert await committed_records(worker, settings.topics.raw("salinity")) == 10

    assert await _count(db, "SELECT count(*) FROM rejections WHERE feed = 'salinity'") == 10
    assert await _count(db, "SELECT count(*) FROM observations WHERE feed = 'salinity'") == 0
    assert await _count(db, "SELECT count(*) FROM observations WHERE feed = 'air-quality'") == (
        4 * len(air)
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_two_workers_share_the_partitions_and_write_every_record_once(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    stations = [f"ST-{n % 30:02d}" for n in range(600)]
    messages = [
        SALINITY_FIRST.replace(b"CM-SAL-01", station.encode()).replace(
            b"06:00", f"{n // 30:02d}:{15 * (n % 4):02d}".encode()
        )
        for n, station in enumerate(stations)
    ]
    series = {(n % 30, n // 30, n % 4) for n in range(600)}
    group = f"pair-{uuid.uuid4().hex[:8]}"
    async with (
        running_worker(settings, feeds, group_id=group) as first,
        running_worker(settings, feeds, group_id=group),
    ):
        await produce(settings, "salinity", messages, keys=[s.encode() for s in stations])
        await eventually(lambda: all_committed(first, "salinity", len(messages)), within_s=60)

    assert await _count(db, "SELECT count(*) FROM observations") == 2 * len(series)
    partitions = await db.fetchval("SELECT count(DISTINCT src_partition) FROM observations")
    assert partitions == RAW_PARTITIONS


@pytest.mark.asyncio(loop_scope="session")
async def test_workers_joining_and_leaving_mid_stream_write_every_record_once(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    # A rebalance often lands while a batch polled before it waits to be written (the
    # pipeline): its partitions may have gone elsewhere by its commit. The worker once crashed
    # there. Six rebalances, a second worker joining and leaving three times mid-stream.
    messages, checksum_tenths = salinity_stream(120_000, start=TEST_NOW - timedelta(days=1))
    stations = [json.loads(message)["ma_tram"].encode() for message in messages]
    await produce(settings, "salinity", messages, keys=stations)
    group, batches = f"moving-{uuid.uuid4().hex[:8]}", 2_000

    def committed_at_least(worker: WorkerSettings, count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await committed_records(worker, settings.topics.raw("salinity")) >= count

        return check

    async with running_worker(settings, feeds, group_id=group, batch_max_records=batches) as first:
        for joins_at in (10_000, 45_000, 80_000):
            await eventually(committed_at_least(first, joins_at), within_s=120)
            async with running_worker(settings, feeds, group_id=group, batch_max_records=batches):
                leaves_at = joins_at + 15_000
                await eventually(committed_at_least(first, leaves_at), within_s=120)
        await eventually(lambda: all_committed(first, "salinity", len(messages)), within_s=120)

    assert await _count(db, "SELECT count(*) FROM observations") == 2 * len(messages)
    stored_tenths = await db.fetchval(
        "SELECT sum(round(value * 10))::bigint FROM observations WHERE metric = 'salinity_ppt'"
    )
    assert stored_tenths == checksum_tenths
