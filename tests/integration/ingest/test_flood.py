"""A flood of 10,000 invalid records among valid ones: every bad one quarantined with its
reason, every valid one stored, and another feed unaffected."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from tests.integration.messages import salinity_reading
from tests.integration.pipeline import all_committed, eventually, produce, running_worker

pytestmark = pytest.mark.integration

INVALID = 10_000
VALID = 2_500  # one valid among five: under the invalid-ratio limit (0.9), the feed flows
AT = datetime(2026, 11, 25, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def _invalid(n: int) -> bytes:
    kinds = [
        b"not json at all",
        json.dumps({"ma_tram": f"BAD-{n}"}).encode(),  # required fields missing
        salinity_reading(AT, salinity="999,0", station=f"BAD-{n}"),  # out of bounds
    ]
    return kinds[n % len(kinds)]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_flood_of_invalid_records_is_quarantined_and_nothing_else_suffers(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    records = []
    for n in range(INVALID):
        records.append(_invalid(n))
        if n % 4 == 0:
            records.append(salinity_reading(AT, salinity="9,2", station=f"OK-{n // 4:05d}"))
    assert len(records) == INVALID + VALID
    await produce(settings, "salinity", records)
    air = feeds["air-quality"].examples_path.read_bytes().splitlines()
    await produce(settings, "air-quality", air)

    async with running_worker(settings, feeds) as worker:
        await eventually(functools.partial(all_committed, worker, "salinity", len(records)))
        await eventually(functools.partial(all_committed, worker, "air-quality", len(air)))

    reasons = await db.fetch(
        "SELECT left(reason, 12) AS kind, count(*) AS n FROM rejections"
        " WHERE feed = 'salinity' GROUP BY 1"
    )
    assert sum(r["n"] for r in reasons) == INVALID
    assert await db.fetchval("SELECT count(*) FROM rejections WHERE reason = ''") == 0
    stations = await db.fetchval(
        "SELECT count(DISTINCT entity) FROM observations"
        " WHERE feed = 'salinity' AND entity LIKE 'OK-%' AND metric = 'salinity_ppt'"
    )
    assert stations == VALID
    assert await db.fetchval("SELECT count(*) FROM observations WHERE entity LIKE 'BAD-%'") == 0
    expected_air = len(
        {(json.loads(line)["station_id"], json.loads(line)["timestamp"]) for line in air}
    )
    held_air = await db.fetchval(
        "SELECT count(DISTINCT (entity, ts)) FROM observations WHERE feed = 'air-quality'"
    )
    assert held_air == expected_air
