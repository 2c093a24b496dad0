"""GET /v1/feeds/{feed}/observations served from the real store, with keys: newest first by
default, ``order=asc`` oldest first, pages of ``limit`` rows (capped) joined by a cursor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.settings import CommonSettings
from tests.integration.conftest import TIMESCALEDB_VERSION
from tests.integration.pipeline import all_committed, eventually, produce, running_worker

pytestmark = pytest.mark.integration


async def _key(db: Any, kind: str, subject: str) -> dict[str, str]:
    _, key = await issue_key(db, kind, subject)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_produced_salinity_message_is_served_with_canonical_values(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any, client: httpx.AsyncClient
) -> None:
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    await produce(settings, "salinity", examples)
    async with running_worker(settings, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))

    reader = await _key(db, "reader", "wall")
    response = await client.get(
        "/v1/feeds/salinity/observations",
        params={"entity": "CM-SAL-03", "from": "2026-11-25T06:00:00+07:00", "order": "asc"},
        headers=reader,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] is True  # API_MAX_PAGE is 5 in these tests
    assert body["order"] == "asc"
    assert body["observations"][:2] == [
        {
            "entity": "CM-SAL-03",
            "metric": "salinity_ppt",
            "ts": "2026-11-24T23:00:00Z",
            "value": 14.1,
            "unit": "‰",
        },
        {
            "entity": "CM-SAL-03",
            "metric": "water_level_m",
            "ts": "2026-11-24T23:00:00Z",
            "value": 1.11,
            "unit": "m",
        },
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_keys_decide_who_reads(db: Any, client: httpx.AsyncClient) -> None:
    url = "/v1/feeds/hospital-beds/observations"  # not public
    assert (await client.get(url)).status_code == 401
    wrong = {"Authorization": "Bearer ioc_not-a-key"}
    assert (await client.get(url, headers=wrong)).json() == {
        "error": "unauthorized",
        "detail": "unknown or revoked API key",
    }
    owner = await _key(db, "agency", "syt")
    assert (await client.get(url, headers=owner)).status_code == 200
    other_agency = await _key(db, "agency", "snnmt")
    assert (await client.get(url, headers=other_agency)).status_code == 403
    reader = await _key(db, "reader", "grafana")
    assert (await client.get("/v1/feeds/nope/observations", headers=reader)).status_code == 404
    naive = await client.get(url, params={"from": "2026-11-25T06:00:00"}, headers=reader)
    assert naive.status_code == 422
    assert "UTC offset" in naive.json()["detail"]
    seconds = await client.get(url, params={"to": "0.5"}, headers=reader)  # not 1970 + 0.5 s
    assert seconds.status_code == 422
    assert "ISO 8601" in seconds.json()["detail"]


@pytest.mark.asyncio(loop_scope="session")
async def test_readyz_names_the_storage_mode_and_timescaledb_version(
    client: httpx.AsyncClient, stack: Any
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ready",
        "storage_mode": stack.storage_mode,
        "timescaledb_version": body["timescaledb_version"],
    }
    if stack.storage_mode == "timescaledb":
        assert body["timescaledb_version"] == TIMESCALEDB_VERSION
    else:
        assert body["timescaledb_version"] is None
    assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_nul_in_a_filter_is_a_clear_refusal(db: Any, client: httpx.AsyncClient) -> None:
    # PostgreSQL text cannot hold NUL: such a filter matches nothing that could be stored.
    reader = await _key(db, "reader", "grafana")
    for name in ("entity", "metric"):
        response = await client.get(
            "/v1/feeds/salinity/observations", params={name: "CM\x00"}, headers=reader
        )
        assert response.status_code == 200, response.text
        assert response.json()["observations"] == []


TIMES = [datetime(2026, 11, 24, hour, tzinfo=UTC) for hour in (1, 2, 3, 4)]


async def _stored(db: Any) -> list[tuple[str, str, str]]:
    """Rows of salinity at four moments: three stations' two numbers and one text state (a
    note), so moments are shared by many rows and numbers and texts interleave."""
    rows = []
    for at in TIMES:
        for station in ("CM-SAL-01", "CM-SAL-02", "CM-SAL-03"):
            for metric in ("salinity_ppt", "water_level_m"):
                await db.execute(
                    "INSERT INTO observations (feed, entity, metric, ts, value, src_partition,"
                    " src_offset) VALUES ('salinity', $1, $2, $3, 1.5, 0, 0)",
                    station,
                    metric,
                    at,
                )
                rows.append((at.isoformat().replace("+00:00", "Z"), station, metric))
        await db.execute(
            "INSERT INTO states (feed, entity, metric, ts, value, src_partition, src_offset)"
            " VALUES ('salinity', 'CM-SAL-02', 'note', $1, 'cống đóng', 0, 0)",
            at,
        )
        rows.append((at.isoformat().replace("+00:00", "Z"), "CM-SAL-02", "note"))
    return rows


async def _walk(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> tuple[list[tuple[str, str, str]], list[int]]:
    """Every page from the first, following ``next``: the rows and each page's size."""
    seen: list[tuple[str, str, str]] = []
    sizes = []
    url: str | None = "/v1/feeds/salinity/observations"
    first = True
    while url is not None:
        answer = await client.get(url, params=params if first else None, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["truncated"] is (page["next"] is not None) is (page["next_cursor"] is not None)
        seen += [(o["ts"], o["entity"], o["metric"]) for o in page["observations"]]
        sizes.append(len(page["observations"]))
        url, first = page["next"], False
    return seen, sizes


@pytest.mark.asyncio(loop_scope="session")
async def test_pages_newest_first_by_default_and_oldest_first_asked_each_row_once(
    db: Any, client: httpx.AsyncClient
) -> None:
    stored = await _stored(db)
    reader = await _key(db, "reader", "wall")
    oldest_first = sorted(stored)
    newest_first = sorted(stored, key=lambda row: (_Backwards(row[0]), row[1], row[2]))
    assert newest_first[0] == ("2026-11-24T04:00:00Z", "CM-SAL-01", "salinity_ppt")

    seen, sizes = await _walk(client, reader, {})
    assert seen == newest_first  # newest first; a moment's rows by station and metric
    assert sizes == [5, 5, 5, 5, 5, 3]  # API_MAX_PAGE rows a page
    seen, sizes = await _walk(client, reader, {"order": "asc", "limit": "4"})
    assert seen == oldest_first
    assert sizes == [4] * 7
    seen, _ = await _walk(client, reader, {"limit": "1000"})  # capped at API_MAX_PAGE
    assert seen == newest_first
    seen, _ = await _walk(
        client,
        reader,
        {"entity": "CM-SAL-02", "from": "2026-11-24T09:00:00+07:00", "limit": "2"},
    )
    assert seen == [
        row for row in newest_first if row[1] == "CM-SAL-02" and row[0] >= "2026-11-24T02"
    ]


class _Backwards(str):
    """A string that sorts in reverse: newest times first."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_cursor_not_given_or_given_for_the_other_order_is_a_400(
    db: Any, client: httpx.AsyncClient
) -> None:
    await _stored(db)
    reader = await _key(db, "reader", "wall")
    url = "/v1/feeds/salinity/observations"
    first = (await client.get(url, params={"limit": "2"}, headers=reader)).json()
    for cursor, said in [
        ("bm90IGEgY3Vyc29y", "cursor is not one this service gave"),
        ("%%%", "cursor is not one this service gave"),
        (first["next_cursor"][:-4], "cursor is not one this service gave"),
    ]:
        refused = await client.get(url, params={"cursor": cursor}, headers=reader)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "bad_request"
        assert refused.json()["detail"].startswith(said)
    other = await client.get(
        url, params={"cursor": first["next_cursor"], "order": "asc"}, headers=reader
    )
    assert other.status_code == 400
    assert other.json()["detail"] == (
        "cursor was given for order=desc: ask with the same order, or without the cursor"
    )
    for bad in ({"order": "sideways"}, {"limit": "0"}):
        assert (await client.get(url, params=bad, headers=reader)).status_code == 422
