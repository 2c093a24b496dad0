"""POST /v1/feeds/{feed}/messages against the real broker: every status code of the contract."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.api.app import create_app
from services.api.push import idempotency
from services.common.kafka import KafkaConnection
from services.common.keys import issue_key, revoke_key
from services.common.settings import CommonSettings
from tests.integration.api.conftest import PUSH_MAX_BYTES, api_settings
from tests.integration.conftest import db_connection, run_stack
from tests.integration.pipeline import eventually, read_topic

pytestmark = pytest.mark.integration
URL = "/v1/feeds/salinity/messages"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_MESSAGES = 10_000  # IOC_PUSH_MAX_MESSAGES's default
LISTED_REJECTIONS = 100  # the rejections an answer lists; it counts them all


def _reading(station: str, minute: int, salinity: str = "9,2") -> dict[str, Any]:
    return {
        "ma_tram": station,
        "thoi_gian": f"25/11/2026 06:{minute:02d}",
        "do_man_phan_nghin": salinity,
        "muc_nuoc_cm": 107,
        "xa_phuong_ma": "32150",
    }


async def _agency(db: Any, agency: str = "snnmt") -> dict[str, str]:
    _, key = await issue_key(db, "agency", agency)
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_mixed_batch_gives_exact_accepted_and_rejected_lists_and_lands_on_kafka(
    client: httpx.AsyncClient, db: Any, settings: CommonSettings
) -> None:
    batch = [
        _reading("CM-SAL-01", 0),
        {"ma_tram": "CM-SAL-01"},
        _reading("CM-SAL-02", 15, salinity="75,0"),
        _reading("CM-SAL-03", 30),
    ]
    response = await client.post(URL, json=batch, headers=await _agency(db))
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "rejected": [
            {"index": 1, "error": "schema: (message): 'thoi_gian' is a required property"},
            {"index": 2, "error": "mapping: salinity_ppt = 75 ‰ is outside [0, 60]"},
        ],
        "rejected_count": 2,
    }
    records = await read_topic(settings.kafka, settings.topics.raw("salinity"), 2)
    assert sorted((r.key, json.loads(r.value)) for r in records) == [
        (b"CM-SAL-01", batch[0]),
        (b"CM-SAL-03", batch[3]),
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_ndjson_is_accepted_line_by_line(client: httpx.AsyncClient, db: Any) -> None:
    # JSON's escapes can name half a surrogate pair, which no UTF-8 text (nor the store) holds.
    lone_surrogate = json.dumps(_reading("S1\ud800", 15)).encode()
    body = b"\n".join([json.dumps(_reading("S1", 0)).encode(), b"{broken", lone_surrogate, b""])
    response = await client.post(
        URL, content=body, headers={**await _agency(db), "Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [1, 2]
    assert all(r["error"].startswith("line is not valid JSON") for r in rejected)


@pytest.mark.asyncio(loop_scope="session")
async def test_every_refusal_has_its_status(client: httpx.AsyncClient, db: Any) -> None:
    owner = await _agency(db)
    one = [_reading("S1", 0)]
    assert (await client.post(URL, json=one)).status_code == 401
    assert (await client.post(URL, json=one, headers=await _agency(db, "syt"))).status_code == 403
    _, reader = await issue_key(db, "reader", "wall")
    reader_headers = {"Authorization": f"Bearer {reader}"}
    assert (await client.post(URL, json=one, headers=reader_headers)).status_code == 403
    assert (
        await client.post("/v1/feeds/nope/messages", json=one, headers=owner)
    ).status_code == 404

    too_large = [_reading(f"S{n}", 0) for n in range(PUSH_MAX_BYTES // 100)]
    assert (await client.post(URL, json=too_large, headers=owner)).status_code == 413

    wrong_type = await client.post(
        URL, content=b"ma_tram=S1", headers={**owner, "Content-Type": "text/csv"}
    )
    assert wrong_type.status_code == 415
    assert "application/json" in wrong_type.json()["detail"]

    nothing_valid = await client.post(URL, json=[{"x": 1}], headers=owner)
    assert nothing_valid.status_code == 422
    assert nothing_valid.json()["rejected"] == [
        {"index": 0, "error": "schema: (message): 'ma_tram' is a required property"}
    ]
    assert nothing_valid.json()["rejected_count"] == 1
    not_an_array = await client.post(URL, json={"ma_tram": "S1"}, headers=owner)
    assert not_an_array.status_code == 422


@pytest.mark.asyncio(loop_scope="session")
async def test_more_messages_than_a_push_may_hold_is_413_naming_the_cap(
    client: httpx.AsyncClient, db: Any
) -> None:
    # 20 kB of zeros, well under the byte limit: without a cap on messages each one was listed
    # in the answer (a 5 MB body of them: 2.6 million entries, ~150 MB of JSON, kept as jsonb).
    owner = await _agency(db)
    too_many = await client.post(URL, json=[0] * (MAX_MESSAGES + 1), headers=owner)
    ndjson = {**owner, "Content-Type": "application/x-ndjson"}
    too_many_lines = await client.post(URL, content=b"0\n" * (MAX_MESSAGES + 1), headers=ndjson)
    for response in (too_many, too_many_lines):
        assert response.status_code == 413
        assert response.json() == {
            "error": "payload_too_large",
            "detail": "the body holds more than 10,000 messages; send smaller batches",
        }
    blank_lines_are_not_messages = b"\n\n".join([b"0"] * MAX_MESSAGES)
    at_the_cap = await client.post(URL, content=blank_lines_are_not_messages, headers=ndjson)
    assert at_the_cap.status_code == 422  # every one read, and refused for what it is
    assert at_the_cap.json()["rejected_count"] == MAX_MESSAGES


@pytest.mark.asyncio(loop_scope="session")
async def test_an_answer_lists_the_first_rejections_and_counts_them_all(
    client: httpx.AsyncClient, db: Any
) -> None:
    owner = {**await _agency(db), "Content-Type": "application/json", "Idempotency-Key": "k-many"}
    mostly_bad = _body(*[{"x": n} for n in range(150)], _reading("S1", 0))
    first = await client.post(URL, content=mostly_bad, headers=owner)
    again = await client.post(URL, content=mostly_bad, headers=owner)  # the kept answer
    for response in (first, again):
        assert response.status_code == 202
        answer = response.json()
        assert (answer["accepted"], answer["rejected_count"]) == (1, 150)
        assert [r["index"] for r in answer["rejected"]] == list(range(LISTED_REJECTIONS))

    nothing_valid = await client.post(URL, json=[{"x": 1}] * 150, headers=await _agency(db))
    assert nothing_valid.status_code == 422
    assert nothing_valid.json()["rejected_count"] == 150
    assert len(nothing_valid.json()["rejected"]) == LISTED_REJECTIONS


@pytest.mark.asyncio(loop_scope="session")
async def test_an_unreachable_broker_gives_503_and_accepts_nothing(
    settings: CommonSettings, db: Any
) -> None:
    nowhere = replace(settings, kafka=KafkaConnection("127.0.0.1:9"))  # nothing listens on discard
    app = create_app(replace(api_settings(nowhere), broker_timeout_s=2.0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            response = await client.post(URL, json=[_reading("S1", 0)], headers=await _agency(db))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "nothing was accepted" in response.json()["detail"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_revoked_key_is_refused_within_seconds(client: httpx.AsyncClient, db: Any) -> None:
    key_id, key = await issue_key(db, "agency", "snnmt")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.post(URL, json=[_reading("S1", 0)], headers=headers)).status_code == 202
    assert await revoke_key(db, key_id) is True

    async def refused() -> bool:
        response = await client.post(URL, json=[_reading("S1", 0)], headers=headers)
        return response.status_code == 401

    # The API remembers a found key for IOC_KEY_CACHE_S (5 s): the revocation's delay at most.
    await eventually(refused, within_s=10)
    assert await revoke_key(db, 10**9) is False


def _body(*readings: dict[str, Any]) -> bytes:
    return json.dumps(list(readings)).encode()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_idempotent_retry_gets_the_first_answer_and_produces_nothing_twice(
    client: httpx.AsyncClient, db: Any, settings: CommonSettings
) -> None:
    owner = {**await _agency(db), "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    body = _body(_reading("S1", 0), {"bad": True})
    first = await client.post(URL, content=body, headers=owner)
    again = await client.post(URL, content=body, headers=owner)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.json()["accepted"] == 1

    other_body = await client.post(URL, content=_body(_reading("S2", 0)), headers=owner)
    assert other_body.status_code == 422
    assert other_body.json()["error"] == "idempotency_key_reused"

    # Keys are per agency: another agency's "k-1" is its own.
    await _produce_marker(client, db)
    records = await read_topic(settings.kafka, settings.topics.raw("salinity"), 2)
    assert sorted(json.loads(r.value)["ma_tram"] for r in records) == ["MARK", "S1"]


async def _produce_marker(client: httpx.AsyncClient, db: Any) -> None:
    headers = {**await _agency(db), "Content-Type": "application/json"}
    response = await client.post(URL, content=_body(_reading("MARK", 0)), headers=headers)
    assert response.status_code == 202


@pytest.mark.asyncio(loop_scope="session")
async def test_a_retry_while_the_first_is_in_flight_gets_409(
    client: httpx.AsyncClient, db: Any
) -> None:
    body = _body(_reading("S1", 0))
    digest = idempotency.request_hash("salinity", "application/json", body)
    async with db_connection(db) as connection:
        claimed = await idempotency.claim(
            connection, "snnmt", "k-busy", digest, now=datetime.now(UTC), kept=timedelta(days=1)
        )
        assert claimed is None
    headers = {**await _agency(db), "Content-Type": "application/json", "Idempotency-Key": "k-busy"}
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 409
    other_agency_key = await _agency(db, "syt")
    assert (
        await client.post(
            "/v1/feeds/hospital-beds/messages",
            content=b"[]",
            headers={
                **other_agency_key,
                "Content-Type": "application/json",
                "Idempotency-Key": "k-busy",
            },
        )
    ).status_code == 422  # its own key space: not 409, just an empty batch


@pytest.mark.asyncio(loop_scope="session")
async def test_one_agencys_flood_is_limited_without_slowing_another(
    settings: CommonSettings, db: Any
) -> None:
    # A bucket that refills once in 1000 s: the outcome never depends on how fast the machine is.
    slow_refill = replace(api_settings(settings), push_rate_per_s=0.001, push_burst=3)
    app = create_app(slow_refill)
    flooding = {**await _agency(db), "Content-Type": "application/json"}
    calm = {**await _agency(db, "syt"), "Content-Type": "application/json"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            statuses = [
                (await client.post(URL, content=b"[]", headers=flooding)).status_code
                for _ in range(5)
            ]
            limited = await client.post(URL, content=b"[]", headers=flooding)
            calm_answer = await client.post(
                "/v1/feeds/hospital-beds/messages", content=b"[]", headers=calm
            )
    assert statuses == [422, 422, 422, 429, 429]  # the burst served (empty batches), then limited
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "retry in" in limited.json()["detail"]
    assert calm_answer.status_code == 422  # served (an empty batch), not limited


@pytest.mark.asyncio(loop_scope="session")
async def test_the_broker_stopped_gives_503_and_the_message_never_appears_later(
    client: httpx.AsyncClient, db: Any, settings: CommonSettings
) -> None:
    owner = await _agency(db)
    assert (await client.post(URL, json=[_reading("BEFORE", 0)], headers=owner)).status_code == 202
    await asyncio.to_thread(run_stack, "down", "kafka")
    try:
        during = await client.post(URL, json=[_reading("DURING", 0)], headers=owner)
    finally:
        await asyncio.to_thread(run_stack, "up", "kafka")
    assert during.status_code == 503
    assert during.headers["Retry-After"] == "5"
    # The broker back, an agency that retries after Retry-After is accepted again (the new
    # broker may take a moment to lead its partitions); a refused try never lands later.
    for _ in range(12):
        after = await client.post(URL, json=[_reading("AFTER", 0)], headers=owner)
        if after.status_code != 503:
            break
        await asyncio.sleep(int(after.headers["Retry-After"]))
    assert after.status_code == 202

    records = await read_topic(settings.kafka, settings.topics.raw("salinity"), 2)
    await asyncio.sleep(2)  # anything the producer might still deliver late would be here now
    everything = await read_topic(settings.kafka, settings.topics.raw("salinity"), 2)
    assert sorted(json.loads(r.value)["ma_tram"] for r in records) == ["AFTER", "BEFORE"]
    assert len(everything) == 2


@pytest.mark.asyncio(loop_scope="session")
async def test_a_message_from_the_future_is_rejected_with_its_reason(
    client: httpx.AsyncClient, db: Any
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(LOCAL)
    future = {**_reading("S1", 0), "thoi_gian": tomorrow.strftime("%d/%m/%Y %H:%M")}
    response = await client.post(URL, json=[_reading("S1", 0), future], headers=await _agency(db))
    assert response.status_code == 202
    [rejected] = response.json()["rejected"]
    assert rejected["index"] == 1
    assert "ahead of the IOC clock (at most 5 min allowed)" in rejected["error"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_body_that_trickles_in_too_slowly_gets_408(
    settings: CommonSettings, db: Any
) -> None:
    app = create_app(replace(api_settings(settings), push_read_timeout_s=0.5))

    async def trickle() -> AsyncIterator[bytes]:
        yield b'[{"ma_tram": "S1",'
        await asyncio.sleep(2)
        yield b"}]"

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as slow_client:
            headers = {**await _agency(db), "Content-Type": "application/json"}
            response = await slow_client.post(URL, content=trickle(), headers=headers)
    assert response.status_code == 408


@pytest.mark.asyncio(loop_scope="session")
async def test_the_api_purges_idempotency_keys_kept_their_time_by_its_clock(
    settings: CommonSettings, db: Any
) -> None:
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # the API's clock, pinned
    kept = timedelta(hours=24)
    for key, age in (("old", kept + timedelta(minutes=1)), ("young", kept - timedelta(minutes=1))):
        await db.execute(
            "INSERT INTO idempotency_keys (agency, key, request_hash, response_status,"
            " response_body, created_at) VALUES ('snnmt', $1, 'h', 202, '{}'::jsonb, $2)",
            key,
            now - age,
        )
    purging = replace(
        api_settings(settings),
        idempotency_kept=kept,
        idempotency_purge_every_s=0.1,
    )
    app = create_app(purging, clock=lambda: now)
    async with app.router.lifespan_context(app):

        async def purged() -> bool:
            left: int = await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'old'")
            return left == 0

        await eventually(purged, within_s=10)
    assert [row["key"] for row in await db.fetch("SELECT key FROM idempotency_keys")] == ["young"]
