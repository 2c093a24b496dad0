"""POST /v1/feeds/{feed}/uploads against the real broker and store: a ward's spreadsheet
report, end to end through the app and a worker into the store; the same file twice; a
corrected file; the refusals."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from services.api.app import create_app
from services.api.push.gateway import KafkaGateway
from services.api.uploads import repository
from services.api.uploads.body import UploadedFile
from services.api.uploads.service import STALE_CLAIM, Uploading, upload
from services.common.db import create_pool
from services.common.feed_fields import fields_of
from services.common.feeds import FeedDefinition
from services.common.intake.feed_intake import FeedIntake
from services.common.kafka import KafkaConnection
from services.common.keys import issue_key
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.api.conftest import api_settings
from tests.integration.conftest import db_connection
from tests.integration.pipeline import (
    all_committed,
    eventually,
    read_topic,
    running_worker,
    topic_size,
)
from tests.unit.api.uploads.workbooks import dossier_row, ward_report, ward_report_xls

pytestmark = pytest.mark.integration
URL = "/v1/feeds/admin-dossiers/uploads"
# The ward's report covers 1-3 December 2026 (local); the API's and the worker's clock are
# pinned the day after, so the event-time bounds never depend on the day the suite runs.
NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
SAMPLE = (
    REPO_ROOT / "tests" / "fixtures" / "bao-cao-ho-so-mau.xlsx"
)  # ../shared/feeds/admin-dossiers
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES = 256 * 1024


@pytest_asyncio.fixture(loop_scope="session")
async def client(settings: CommonSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(api_settings(settings), upload_max_bytes=MAX_BYTES), clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            yield client


@pytest_asyncio.fixture(loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[Any]:
    """A pool as the API's: JSON in and out (the receipts)."""
    made = await create_pool(database_url, min_size=1, max_size=2)
    try:
        yield made
    finally:
        await made.close()


async def _key(db: Any, agency: str = "tthcc") -> dict[str, str]:
    _, key = await issue_key(db, "agency", agency)
    return {"Authorization": f"Bearer {key}"}


def _form(content: bytes, name: str = "bao-cao.xlsx") -> dict[str, Any]:
    return {"files": {"file": (name, content, XLSX)}}


async def _stored(db: Any, metric: str) -> list[tuple[str, str, float]]:
    rows = await db.fetch(
        "SELECT entity, (ts AT TIME ZONE 'Asia/Ho_Chi_Minh')::date::text AS day, value"
        " FROM observations WHERE feed = 'admin-dossiers' AND metric = $1 ORDER BY entity, ts",
        metric,
    )
    return [(row["entity"], row["day"], row["value"]) for row in rows]


async def _ingest(settings: CommonSettings, feeds: dict[str, FeedDefinition], records: int) -> None:
    async with running_worker(settings, feeds, now=lambda: NOW) as worker:
        await eventually(functools.partial(all_committed, worker, "admin-dossiers", records))


@pytest.mark.asyncio(loop_scope="session")
async def test_the_ward_report_uploads_as_its_three_data_rows_into_the_store(
    client: httpx.AsyncClient, db: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    response = await client.post(URL, headers=await _key(db), **_form(SAMPLE.read_bytes()))
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert {k: receipt[k] for k in ("rows", "accepted", "produced", "unchanged")} == {
        "rows": 3,
        "accepted": 3,
        "produced": 3,
        "unchanged": 0,
    }
    assert receipt["rejected"] == []
    assert receipt["rejected_count"] == 0
    assert [(i["row"], i["column"], i["reason"]) for i in receipt["ignored"]] == [
        (1, None, "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)"),
        (2, None, "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)"),
        (4, None, "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)"),
        (5, None, "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)"),
        (6, None, "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)"),
        (None, "A", "cột số thứ tự"),
        (None, "J", "cột 'Ghi chú' không phải trường của admin-dossiers (ghi chú)"),
        (12, None, "dòng tổng cộng"),
        (14, None, "phía dưới bảng (chữ ký, ghi chú)"),
        (15, None, "phía dưới bảng (chữ ký, ghi chú)"),
        (17, None, "phía dưới bảng (chữ ký, ghi chú)"),
    ]
    records = await read_topic(settings.kafka, settings.topics.raw("admin-dossiers"), 3)
    assert {r.key for r in records} == {b"32002"}
    assert sorted(json.loads(r.value)["ngay"] for r in records) == [
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
    ]
    await _ingest(settings, feeds, 3)
    assert await _stored(db, "received") == [
        ("32002", "2026-12-01", 141.0),
        ("32002", "2026-12-02", 118.0),
        ("32002", "2026-12-03", 97.0),
    ]
    assert await _stored(db, "in_progress") == [
        ("32002", "2026-12-01", 13.0),
        ("32002", "2026-12-02", 9.0),
        ("32002", "2026-12-03", 6.0),  # typed as text in the sheet
    ]
    kept = await db.fetchrow(
        "SELECT u.sha256, u.size, f.content"
        " FROM uploads u JOIN upload_files f ON f.upload_id = u.id"
    )
    assert kept["content"] == SAMPLE.read_bytes()
    assert kept["size"] == SAMPLE.stat().st_size
    assert kept["sha256"] == receipt["sha256"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_bad_row_named_the_same_file_twice_and_a_correction_of_one_row(
    client: httpx.AsyncClient, db: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    headers = await _key(db)
    first = ward_report(
        [
            dossier_row(1, 1, 32002, received=141),
            dossier_row(2, 2, 32002, received=-5),  # the bad row: below the schema's minimum
            dossier_row(3, 3, 32150, received=97),
        ]
    )
    response = await client.post(URL, headers=headers, **_form(first))
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert (receipt["rows"], receipt["accepted"], receipt["produced"]) == (3, 2, 2)
    assert receipt["rejected"] == [
        {
            "sheet": "Biểu 01",
            "row": 7,
            "column": "E",
            "error": "schema: ho_so/tiep_nhan: -5 is less than the minimum of 0",
        }
    ]
    topic = settings.topics.raw("admin-dossiers")

    again = await client.post(URL, headers=headers, **_form(first, name="gui-lai.xlsx"))
    assert again.status_code == 202
    assert again.json() == receipt

    corrected = ward_report(
        [
            dossier_row(1, 1, 32002, received=141),
            dossier_row(2, 2, 32002, received=120),  # fixed
            dossier_row(3, 3, 32150, received=99),  # corrected
        ]
    )
    response = await client.post(URL, headers=headers, **_form(corrected))
    assert response.status_code == 202, response.text
    fixed = response.json()
    assert fixed["upload"] != receipt["upload"]
    assert (fixed["rows"], fixed["accepted"], fixed["produced"], fixed["unchanged"]) == (3, 3, 2, 1)
    records = await read_topic(settings.kafka, topic, 4)
    assert len(records) == 4  # 2 + 2: the unchanged row was not sent again, nor the same file
    await _ingest(settings, feeds, 4)
    assert await _stored(db, "received") == [
        ("32002", "2026-12-01", 141.0),
        ("32002", "2026-12-02", 120.0),
        ("32150", "2026-12-03", 99.0),
    ]
    # "sạch" counts the correction as a repeat; the unchanged row, never sent again, is not one
    counts = await db.fetchrow(
        "SELECT sum(records) AS records, sum(repeated) AS repeated FROM feed_hourly_counts"
        " WHERE feed = 'admin-dossiers'"
    )
    assert (counts["records"], counts["repeated"]) == (4, 1)

    listed = await client.get(URL, headers=headers)
    assert listed.status_code == 200
    uploads = listed.json()["uploads"]
    assert [u["upload"] for u in uploads] == [fixed["upload"], receipt["upload"]]
    assert [u["receipt"] for u in uploads] == [fixed, receipt]
    assert all(u["file_kept"] for u in uploads)


@pytest.mark.asyncio(loop_scope="session")
async def test_an_xls_with_typed_cells_and_a_bad_row_uploads_into_the_store(
    client: httpx.AsyncClient, db: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    content = ward_report_xls(
        [
            dossier_row(1, 1, 32002, received=141),
            dossier_row(2, 2, 32002, received=-5),  # the bad row: below the schema's minimum
            dossier_row(3, 3, 32150, received=97.0),
        ]
    )
    form = {"file": ("bao-cao.xls", content, "application/vnd.ms-excel")}
    response = await client.post(URL, headers=await _key(db), files=form)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert (receipt["rows"], receipt["accepted"], receipt["produced"]) == (3, 2, 2)
    assert receipt["rejected"] == [
        {
            "sheet": "Biểu 01",
            "row": 4,  # the header on row 2, data from row 3
            "column": "E",
            "error": "schema: ho_so/tiep_nhan: -5 is less than the minimum of 0",
        }
    ]
    assert [(i["row"], i["column"], i["reason"]) for i in receipt["ignored"]] == [
        (1, None, "phía trên dòng tiêu đề (tiêu đề, quốc hiệu)"),
        (None, "A", "cột số thứ tự"),
        (None, "J", "cột 'Ghi chú' không phải trường của admin-dossiers (ghi chú)"),
        (6, None, "dòng tổng cộng"),
        (8, None, "phía dưới bảng (chữ ký, ghi chú)"),
    ]
    records = await read_topic(settings.kafka, settings.topics.raw("admin-dossiers"), 2)
    assert sorted((r.key, json.loads(r.value)["ngay"]) for r in records) == [
        (b"32002", "2026-12-01"),
        (b"32150", "2026-12-03"),
    ]
    await _ingest(settings, feeds, 2)
    assert await _stored(db, "received") == [
        ("32002", "2026-12-01", 141.0),
        ("32150", "2026-12-03", 97.0),
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_csv_as_the_raw_body_answers_in_english_on_request(
    client: httpx.AsyncClient, db: Any
) -> None:
    text = (
        "Ngày;Mã đơn vị;Tiếp nhận;Đã giải quyết;Đúng hạn;Trễ hạn;Đang xử lý\n"
        "01/12/2026;32002;10;8;8;0;2\n"
        "02/12/2026;32002;10;8,5;8;0;2\n"
    )
    headers = {
        **await _key(db),
        "Content-Type": "text/csv; charset=utf-8",
        "Accept-Language": "en-GB,en;q=0.9,vi;q=0.5",
    }
    response = await client.post(URL, headers=headers, content=b"\xef\xbb\xbf" + text.encode())
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert (receipt["rows"], receipt["accepted"]) == (2, 1)
    assert receipt["rejected"] == [
        {"sheet": "csv", "row": 3, "column": "D", "error": "'8,5' is not a whole number"}
    ]
    vietnamese = await client.get(URL, headers={"Authorization": headers["Authorization"]})
    [entry] = vietnamese.json()["uploads"]
    assert entry["receipt"]["rejected"][0]["error"] == "'8,5' không phải là số nguyên"


@pytest.mark.asyncio(loop_scope="session")
async def test_refusals(client: httpx.AsyncClient, db: Any) -> None:
    content = ward_report([dossier_row(1, 1, 32002)])
    other = await client.post(URL, headers=await _key(db, "snnmt"), **_form(content))
    assert other.status_code == 403
    headers = await _key(db)
    listed = await client.get(URL, headers=await _key(db, "snnmt"))
    assert listed.status_code == 403
    text = await client.post(URL, headers=headers, files={"file": ("a.txt", b"x", "text/plain")})
    assert text.status_code == 415
    big = await client.post(URL, headers=headers, **_form(b"PK\x03\x04" + b"0" * MAX_BYTES))
    assert big.status_code == 413
    broken = await client.post(URL, headers=headers, **_form(b"PK\x03\x04 not a workbook"))
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("không đọc được tệp xlsx")
    no_table = await client.post(
        URL, headers=headers, files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}
    )
    assert no_table.status_code == 422
    no_file = await client.post(URL, headers=headers, files={"tep": ("x.csv", b"a", "text/csv")})
    assert no_file.status_code == 422
    other_method = await client.delete(URL, headers=headers)
    assert other_method.status_code == 405
    assert other_method.headers["allow"] == "GET, POST"
    # nothing refused was kept: the same file may be sent again once fixed
    assert await db.fetchval("SELECT count(*) FROM uploads") == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_a_file_in_flight_is_409_until_its_claim_is_stale(
    client: httpx.AsyncClient, db: Any
) -> None:
    content = ward_report([dossier_row(1, 1, 32002)])
    async with db_connection(db) as connection:
        seen = repository.FileSeen(
            "admin-dossiers", "tthcc", hashlib.sha256(content).hexdigest(), 1, "x.xlsx", 1
        )
        claimed = await repository.claim(connection, seen, now=NOW, stale=STALE_CLAIM)
    assert isinstance(claimed, repository.Claimed)
    headers = await _key(db)
    assert (await client.post(URL, headers=headers, **_form(content))).status_code == 409
    # a claim older than STALE_CLAIM died with its process: taken over
    await db.execute("UPDATE uploads SET received_at = $1", NOW - STALE_CLAIM - timedelta(1))
    response = await client.post(URL, headers=headers, **_form(content))
    assert response.status_code == 202
    assert response.json()["upload"] != claimed.upload


@pytest.mark.asyncio(loop_scope="session")
async def test_files_are_deleted_after_their_time_and_their_receipts_stay(
    client: httpx.AsyncClient, db: Any
) -> None:
    headers = await _key(db)
    content = ward_report([dossier_row(1, 1, 32002)])
    first = (await client.post(URL, headers=headers, **_form(content))).json()
    assert await db.fetchval("SELECT count(*) FROM upload_rows") == 1
    async with db_connection(db) as connection:
        purged = await repository.purge(
            connection,
            files_before=NOW + timedelta(seconds=1),
            rows_before={"admin-dossiers": datetime(2026, 12, 1, tzinfo=UTC)},
        )
    assert purged == (1, 1)
    [entry] = (await client.get(URL, headers=headers)).json()["uploads"]
    assert entry["file_kept"] is False
    assert entry["receipt"] == first
    again = await client.post(URL, headers=headers, **_form(content))
    assert again.json() == first


@pytest.mark.asyncio(loop_scope="session")
async def test_an_unreachable_broker_gives_503_keeps_nothing_and_the_file_goes_through_later(
    client: httpx.AsyncClient, settings: CommonSettings, db: Any
) -> None:
    nowhere = replace(settings, kafka=KafkaConnection("127.0.0.1:9"))  # nothing listens on discard
    app = create_app(replace(api_settings(nowhere), broker_timeout_s=2.0), clock=lambda: NOW)
    content = ward_report([dossier_row(1, 1, 32002), dossier_row(2, 2, 32002)])
    headers = await _key(db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as away:
            response = await away.post(URL, headers=headers, **_form(content))
    assert response.status_code == 503
    assert "nothing was accepted" in response.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM uploads") == 0
    assert await db.fetchval("SELECT count(*) FROM upload_rows") == 0
    later = await client.post(URL, headers=headers, **_form(content))
    assert later.status_code == 202
    assert (later.json()["accepted"], later.json()["produced"]) == (2, 2)


class _CountingPool:
    """The store's pool, counting the connections an upload holds at each moment."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.held = 0

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self._pool.acquire() as connection:
            self.held += 1
            try:
                yield connection
            finally:
                self.held -= 1


class _WatchedGateway(KafkaGateway):
    """The real gateway, noting how many connections the upload holds while the broker acks."""

    def __init__(self, kafka: KafkaConnection, pool: _CountingPool) -> None:
        super().__init__(kafka, timeout_s=30)
        self.pool = pool
        self.held_while_producing: list[int] = []

    async def send_all(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        timeout_s: float | None = None,
    ) -> None:
        self.held_while_producing.append(self.pool.held)
        await super().send_all(topic, messages, headers=headers, timeout_s=timeout_s)
        self.held_while_producing.append(self.pool.held)


class _CancelledMidway(KafkaGateway):
    """Sends the first half of an upload's rows; then its caller is cancelled (a server
    stopping, a client gone) as the rest are handed to the producer."""

    async def send_all(
        self,
        topic: str,
        messages: Sequence[tuple[bytes | None, bytes]],
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        timeout_s: float | None = None,
    ) -> None:
        half = len(messages) // 2
        await super().send_all(topic, messages[:half], headers=headers, timeout_s=timeout_s)
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await super().send_all(topic, messages[half:], headers=headers, timeout_s=timeout_s)


def _uploading(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], gateway: KafkaGateway
) -> Uploading:
    feed = feeds["admin-dossiers"]
    return Uploading(
        feed=feed,
        fields=fields_of(feed),
        intake=FeedIntake.of(feed),
        gateway=gateway,
        topic=settings.topics.raw("admin-dossiers"),
        now=NOW,
        future_bound=settings.future_bound,
        max_rows=100,
        broker_timeout_s=30,
    )


async def _upload(pool: Any, content: bytes, uploading: Uploading) -> dict[str, Any]:
    file = UploadedFile(content, "bao-cao.xlsx", "xlsx")
    receipt = await upload(pool, file, uploading, unit="tthcc", key_id=1, language="en")
    return receipt.model_dump()


@pytest.mark.asyncio(loop_scope="session")
async def test_no_connection_is_held_while_the_broker_acknowledges(
    db: Any, pool: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    counting = _CountingPool(pool)
    gateway = _WatchedGateway(settings.kafka, counting)
    content = ward_report([dossier_row(1, 1, 32002), dossier_row(2, 2, 32002)])
    try:
        receipt = await _upload(counting, content, _uploading(settings, feeds, gateway))
    finally:
        await gateway.close()
    assert receipt["produced"] == 2
    assert gateway.held_while_producing == [0, 0]
    assert counting.held == 0
    assert await db.fetchval("SELECT count(*) FROM upload_rows") == 2  # kept after the acks


@pytest.mark.asyncio(loop_scope="session")
async def test_a_cancelled_upload_keeps_nothing_and_the_same_file_again_stores_each_row_once(
    db: Any, pool: Any, settings: CommonSettings, feeds: dict[str, FeedDefinition]
) -> None:
    days = (1, 2, 3, 4)
    content = ward_report([dossier_row(day, day, 32002, received=100 + day) for day in days])
    cancelled = _CancelledMidway(settings.kafka, timeout_s=30)
    uploading = _uploading(settings, feeds, cancelled)
    try:
        uploading_task = asyncio.create_task(_upload(pool, content, uploading))
        with pytest.raises(asyncio.CancelledError):
            await uploading_task
    finally:
        await cancelled.close()
    # Its claim released, nothing kept; the rows acknowledged before the cancellation are on
    # the topic, and the rest were dropped from the producer rather than sent.
    assert await db.fetchval("SELECT count(*) FROM uploads") == 0
    assert await db.fetchval("SELECT count(*) FROM upload_rows") == 0
    topic = settings.topics.raw("admin-dossiers")
    landed = await topic_size(settings.kafka, topic)
    assert 2 <= landed <= 4

    gateway = KafkaGateway(settings.kafka, timeout_s=30)
    try:
        receipt = await _upload(pool, content, _uploading(settings, feeds, gateway))
    finally:
        await gateway.close()
    assert (receipt["accepted"], receipt["produced"]) == (4, 4)  # all of them, read again
    await _ingest(settings, feeds, landed + 4)
    assert await _stored(db, "received") == [
        ("32002", "2026-12-01", 101.0),
        ("32002", "2026-12-02", 102.0),
        ("32002", "2026-12-03", 103.0),
        ("32002", "2026-12-04", 104.0),
    ]
    # each row stored once; sạch counts the rows sent twice as repeats, as it would a retry
    counts = await db.fetchrow(
        "SELECT sum(records) AS records, sum(repeated) AS repeated FROM feed_hourly_counts"
        " WHERE feed = 'admin-dossiers'"
    )
    assert (counts["records"], counts["repeated"]) == (landed + 4, landed)


@pytest.mark.asyncio(loop_scope="session")
async def test_an_upload_beyond_the_process_cap_is_503_with_retry_after(
    settings: CommonSettings, db: Any
) -> None:
    app = create_app(replace(api_settings(settings), upload_concurrency=1), clock=lambda: NOW)
    headers = {**await _key(db), "Content-Type": "text/csv"}
    text = "Ngày;Mã đơn vị;Tiếp nhận;Đã giải quyết;Đúng hạn;Trễ hạn;Đang xử lý\n"
    reading, go_on = asyncio.Event(), asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield text.encode()
        reading.set()  # the first upload holds the one slot while its file arrives
        await go_on.wait()
        yield b"01/12/2026;32002;10;8;8;0;2\n"

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            first = asyncio.create_task(client.post(URL, headers=headers, content=slow_body()))
            await reading.wait()
            refused = await client.post(URL, headers=headers, content=b"x;y\n")
            go_on.set()
            answered = await first
            later = await client.post(URL, headers=headers, content=b"x;y\n")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "10"
    assert "IOC_UPLOAD_CONCURRENCY" in refused.json()["detail"]
    assert answered.status_code == 202, answered.text
    assert later.status_code == 422  # the slot is free again: read, and found no table
