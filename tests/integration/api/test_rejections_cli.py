"""`ioc rejections list --feed F` against the real store: the feed's quarantined records newest
first, from the repository GET /v1/feeds/{feed}/rejections reads: when (the province's time),
where from, why, and the payload's start on one line; paged by --before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.common.topics import Topics
from tests.integration.conftest import StackUnderTest, settings_for
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration

PAYLOAD_START = '{ "ma_tram": "CM-SAL-01", "ghi_chu": "'  # its line breaks as spaces

INSERT = (
    'INSERT INTO rejections (feed, topic, partition, "offset", reason, raw, rejected_at)'
    " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
)


@pytest.mark.asyncio(loop_scope="session")
async def test_rejections_list_shows_when_why_and_a_short_payload_newest_first(
    stack: StackUnderTest, database_url: str, db: Any
) -> None:
    long = json.dumps({"ma_tram": "CM-SAL-01", "ghi_chu": "x" * 300}, indent=1).encode()
    ids = [
        await db.fetchval(
            INSERT,
            "salinity",
            "ioc.raw.salinity",
            2,
            offset,
            reason,
            raw,
            datetime(2026, 11, 26, 3, 4, offset, tzinfo=UTC),
        )
        for offset, reason, raw in [
            (1, "not JSON: Expecting value: line 1 column 1 (char 0)", b"N/A"),
            (2, "do_man_ppt: 'cao' is not a number", long),
            (3, "not UTF-8", b"\xff\xfe{}"),
        ]
    ]
    await db.fetchval(
        INSERT, "traffic", "ioc.raw.traffic", 0, 9, "another feed's", b"{}", datetime.now(UTC)
    )
    env = service_env(settings_for(database_url, stack.kafka, Topics("")))

    first = run_ioc(env, "rejections", "list", "--feed", "salinity", "--limit", "2")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"#{ids[2]}  2026-11-26 10:04:03 +07:00  ioc.raw.salinity[2]@3  not UTF-8",
        "    \ufffd\ufffd{}",
        f"#{ids[1]}  2026-11-26 10:04:02 +07:00  ioc.raw.salinity[2]@2  do_man_ppt: 'cao' is"
        " not a number",
        "    " + (PAYLOAD_START + "x" * 99)[:99] + "…",  # one line of 100 characters
        f"2 shown, times in Asia/Ho_Chi_Minh; older: --before {ids[1]}",
    ]
    older = run_ioc(env, "rejections", "list", "--feed", "salinity", "--before", str(ids[1]))
    assert older.returncode == 0, older.stderr
    assert older.stdout.splitlines() == [
        f"#{ids[0]}  2026-11-26 10:04:01 +07:00  ioc.raw.salinity[2]@1  not JSON: Expecting"
        " value: line 1 column 1 (char 0)",
        "    N/A",
        "1 shown, times in Asia/Ho_Chi_Minh",
    ]
    empty = run_ioc(env, "rejections", "list", "--feed", "hospital-beds")
    assert empty.stdout == "no quarantined records\n"
    unknown = run_ioc(env, "rejections", "list", "--feed", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("ioc rejections list: unknown feed 'nope'; known: ")
    assert len(unknown.stderr.splitlines()) == 1
