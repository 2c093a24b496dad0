"""Reminders on the real stack: a real worker stores what the departments send, the evaluation
runs against the store at moments the test chooses, e-mails go to a real SMTP server (aiosmtpd)
and webhooks to a real HTTP receiver.

The life of one reminder: a daily feed silent past its 17:00 deadline two days running raises
exactly one reminder to its department (two evaluations at once still one), delivered by e-mail
(its PDF notice attached) and by a webhook that fails three times first; escalated when left
open; acknowledged with the department's key (another department's key: 404); resolved when
the feed catches up, while a ward still behind gets its own. An overdue task raises one reminder
to its lead unit; a task naming no known unit is shown in the quality report. The ranking (within
each kind of unit) is checked against the test's own computation. A reminder that cannot be
delivered is given up loudly; two API processes evaluating at once raise one reminder per
cause. E-mail goes only to a relay whose certificate the configured CA signed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import io
import json
import logging
import shutil
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pypdf
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from services.api.app import create_app
from services.api.metrics import REMINDERS_UNDELIVERED
from services.api.reminders import repository
from services.api.reminders.channels import DeliveryError, Outgoing
from services.api.reminders.channels.email import Email
from services.api.reminders.delivery import deliver_due
from services.api.reminders.evaluator import Reminding, UnknownRule, evaluate
from services.api.reminders.notice import Notice
from services.api.reminders.settings import ReminderSettings
from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.province import province_day
from services.common.settings import CommonSettings
from tests.integration.api.conftest import api_settings
from tests.integration.certificates import signed, throwaway_ca
from tests.integration.conftest import new_key
from tests.integration.pipeline import Ingest, eventually
from tests.integration.processes import free_port, run_ioc, running_service, service_env

pytestmark = pytest.mark.integration

SECRET = "webhook-secret-for-tests"
HOOK_TOKEN = "t0ken-in-the-hooks-query"  # as some receivers take theirs: never in a log line
DOSSIERS = "admin-dossiers"
TASKS = "programme-tasks"
COMMUNES = {
    "32002": "Phường An Xuyên",
    "32005": "Phường Lý Văn Lâm",
    "32014": "Phường Tân Thành",
    "32150": "Xã Phú Tân",
    "32201": "Xã Thới Bình",
}
T0 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 18:00 in Cà Mau: the 27th is due, 26th too


def dossier_day(day: str, commune: str) -> bytes:
    figures = {"tiep_nhan": 20, "da_giai_quyet": 18, "dung_han": 17, "tre_han": 1, "dang_xu_ly": 2}
    message = {"ngay": day, "don_vi": {"ma": commune, "ten": COMMUNES[commune]}, "ho_so": figures}
    return json.dumps(message, ensure_ascii=False).encode()


def task(code: str, lead: str, due: str, status: str) -> bytes:
    message = {
        "ma_nhiem_vu": code,
        "noi_dung": f"Nhiệm vụ thử {code}",
        "nam_ke_hoach": 2026,
        "han_hoan_thanh": due,
        "trang_thai": status,
        "cap_nhat_luc": "2026-11-01T08:00:00+07:00",
        "don_vi_chu_tri": lead,
    }
    return json.dumps(message, ensure_ascii=False).encode()


class Mailbox:
    """An aiosmtpd handler keeping every message it is given; with a ``gate``, each message
    waits until the gate opens (a slow relay), counted in ``waiting`` meanwhile."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.gate: threading.Event | None = None
        self.waiting = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.gate is not None:
            self.waiting += 1
            await asyncio.to_thread(self.gate.wait, 60)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@dataclass
class Receiver:
    """A webhook receiver that answers 500 to the first ``fail_first`` attempts of each
    delivery (by its id)."""

    fail_first: int
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        delivery = headers["X-IOC-Delivery"]
        tried = sum(h["X-IOC-Delivery"] == delivery for h, _, _ in self.received)
        status = 500 if tried < self.fail_first else 200
        self.received.append((headers, body, status))
        return status

    def of(self, reminder: int) -> list[tuple[dict[str, str], bytes, int]]:
        return [r for r in self.received if json.loads(r[1])["reminder"]["id"] == reminder]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver(fail_first=3)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(state.answer(dict(self.headers.items()), body))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/ioc-hook?token={HOOK_TOKEN}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook_secrets(tmp_path: Path) -> Path:
    """IOC_WEBHOOK_SECRETS_DIR: the Public Service Centre's secret, the one unit with a hook."""
    folder = tmp_path / "webhook-secrets"
    folder.mkdir()
    (folder / "tthcc").write_text(SECRET + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def schemas(tmp_path: Path, receiver: tuple[Receiver, str]) -> Path:
    """The project's schemas, with the Public Service Centre's webhook at the test receiver."""
    copied = tmp_path / "schemas"
    shutil.copytree(Path(__file__).parents[3] / "schemas", copied)
    unit = copied / "units" / "tthcc.yaml"
    with_hook = unit.read_text(encoding="utf-8").replace(
        "contacts:\n", f"contacts:\n  webhook: {receiver[1]}\n"
    )
    unit.write_text(with_hook, encoding="utf-8")
    return copied


@dataclass
class Served:
    client: httpx.AsyncClient
    reminding: Reminding
    pool: Any
    clock: list[datetime]

    async def evaluate(self, at: datetime) -> None:
        self.clock[0] = at
        await evaluate(self.pool, self.reminding, at)

    async def deliver(self, at: datetime) -> int:
        self.clock[0] = at
        return await deliver_due(self.pool, self.reminding, at)


@pytest_asyncio.fixture(loop_scope="session")
async def served(
    settings: CommonSettings, schemas: Path, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[Served]:
    configured = api_settings(replace(settings, schemas_dir=schemas))
    configured = replace(
        configured,
        reminders=replace(
            configured.reminders,
            smtp_host="127.0.0.1",
            smtp_port=mailbox[1],
            webhook_secrets={"tthcc": SECRET},
            retry_base_s=1.0,
            max_attempts=5,
        ),
    )
    clock = [T0]
    app = create_app(configured, clock=lambda: clock[0])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            state = app.state.ioc
            yield Served(client, state.reminding, state.pool, clock)


async def reminders_of(database_url: str, rule: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT id, unit, cause, status, figures::text AS figures FROM reminders"
            " WHERE rule = $1 ORDER BY id",
            rule,
        )
        return [{**dict(row), "figures": json.loads(row["figures"])} for row in rows]
    finally:
        await connection.close()


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(document)).pages)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_reminder_lives_from_a_missed_deadline_to_the_feed_catching_up(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    database_url: str,
    served: Served,
    mailbox: tuple[Mailbox, int],
    receiver: tuple[Receiver, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    box, (hook, hook_url) = mailbox[0], receiver
    caplog.set_level(logging.WARNING, logger="ioc.reminders")
    days = ["2026-11-23", "2026-11-24", "2026-11-25"]
    ingest = Ingest(settings, feeds)
    await ingest(
        {
            DOSSIERS: [dossier_day(day, c) for day in days for c in COMMUNES],
            TASKS: [
                task("T-SYT-1", "Sở Y tế", "2026-11-20", "dang_thuc_hien"),
                task("T-SYT-2", "Sở Y tế", "2026-12-31", "dang_thuc_hien"),
                task("T-SXD-1", "Sở XD", "2026-11-20", "hoan_thanh"),
                task("T-X-1", "Ban Quản lý dự án X", "2026-11-20", "dang_thuc_hien"),
            ],
        },
    )

    # The IOC saw the 26th's deadline pass (one day behind: not yet reminded) and then the
    # 27th's: the rule's evidence is two days it scored the department itself.
    await served.evaluate(T0 - timedelta(days=1))
    assert await reminders_of(database_url, "missed-deadline") == []
    # Two evaluations at once, as two API processes would: one reminder per unit and cause.
    await asyncio.gather(served.evaluate(T0), served.evaluate(T0))
    await served.evaluate(T0 + timedelta(minutes=5))
    [missed] = await reminders_of(database_url, "missed-deadline")
    assert (missed["unit"], missed["cause"]) == ("tthcc", f"missed-deadline:{DOSSIERS}")
    assert missed["figures"]["days_behind"] == 2  # the 26th and the 27th are missing
    assert (missed["figures"]["from"], missed["figures"]["to"]) == ("2026-11-26", "2026-11-27")
    assert missed["figures"]["days_covered"] == 2
    [overdue] = await reminders_of(database_url, "task-overdue")
    assert overdue["unit"] == "syt"
    assert [t["task"] for t in overdue["figures"]["tasks"]] == ["T-SYT-1"]

    # Delivered: the e-mail at once, the webhook on its fourth attempt, each exactly once.
    await served.deliver(T0)
    number = f"Phiếu nhắc việc số {missed['id']}/PNV-IOC"
    [mail] = [m for m in box.to("tthcc@camau.gov.vn") if number in m["Subject"]]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = pdf_text(attachment.get_content())
    assert "Kính gửi: Trung tâm Phục vụ hành chính công tỉnh" in text
    assert "Chậm gửi số liệu quá thời hạn hai ngày liên tiếp" in text
    assert "thiếu số liệu 2 ngày liên tiếp sau thời hạn 17:00" in text
    for second in range(1, 30):
        await served.deliver(T0 + timedelta(seconds=second))
    posts = hook.of(missed["id"])
    assert [status for _, _, status in posts] == [500, 500, 500, 200]
    ids = {headers["X-IOC-Delivery"] for headers, _, _ in posts}
    assert len(ids) == 1
    for headers, body, _ in posts:
        # Signed with the unit's own secret over the attempt's moment (by the delivery's clock,
        # not the wall's) and the body, as a receiver checks it.
        t, v1 = (part.split("=", 1)[1] for part in headers["X-IOC-Signature"].split(","))
        mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert v1 == mac
        assert T0 <= datetime.fromtimestamp(int(t), UTC) < T0 + timedelta(seconds=30)
        assert json.loads(body)["reminder"]["id"] == missed["id"]
    # The failures were logged, the hook's URL without its query (where its token is).
    logged = [r.getMessage() for r in caplog.records]
    failures = [m for m in logged if m.startswith(f"reminder {missed['id']}: webhook delivery")]
    assert len(failures) == 3
    assert all("/ioc-hook?[redacted]" in line for line in failures)
    assert not [r for r in caplog.records if HOOK_TOKEN in r.getMessage()]

    keys = {
        unit: {"Authorization": f"Bearer {await new_key(database_url, 'agency', unit)}"}
        for unit in ("tthcc", "syt")
    }
    reader = {"Authorization": f"Bearer {await new_key(database_url, 'reader', 'committee')}"}
    client = served.client
    mine = (await client.get("/v1/reminders", headers=keys["tthcc"])).json()["reminders"]
    assert {r["unit"] for r in mine} == {"tthcc"}
    url = f"/v1/reminders/{missed['id']}"
    assert (await client.get(url, headers=keys["syt"])).status_code == 404
    shown = (await client.get(url, headers=keys["tthcc"])).json()
    webhook = next(d for d in shown["deliveries"] if d["channel"] == "webhook")
    assert (webhook["status"], webhook["attempts"]) == ("delivered", 4)
    assert webhook["target"] == hook_url  # the unit's own key sees where its own went
    # A reader key (the wall's, on a screen in a public room) sees how each delivery went,
    # never where it went nor why it failed.
    listed = (await client.get("/v1/reminders", headers=reader)).json()["reminders"]
    for seen in [(await client.get(url, headers=reader)).json(), *listed]:
        assert seen["deliveries"]
        for delivery in seen["deliveries"]:
            assert (delivery["target"], delivery["last_error"]) == (None, None)
            assert delivery["status"] in ("pending", "delivered")
        for event in seen["events"]:
            assert not {"target", "error"} & set(event["detail"]), event
    pdf = await client.get(f"{url}/notice.pdf", headers=reader)
    assert pdf.headers["content-type"] == "application/pdf"
    assert "Số: " + shown["number"] in pdf_text(pdf.content)

    # Still open a day later (the IOC evaluates every day); left open past 48 hours:
    # escalated to the province's office, which is written to.
    await served.evaluate(T0 + timedelta(days=1))
    t1 = T0 + timedelta(hours=49)
    await served.evaluate(t1)
    for second in range(30):  # the webhook's escalated delivery fails three times again
        await served.deliver(t1 + timedelta(seconds=second))
    escalated = (await client.get(url, headers=keys["tthcc"])).json()
    assert (escalated["status"], escalated["escalated_to"]) == ("escalated", "vpubnd")
    # Each unit sees where its own deliveries went, not the other's.
    targets = {d["target"] for d in escalated["deliveries"]}
    assert targets == {"tthcc@camau.gov.vn", hook_url, None}
    [again] = [m for m in box.to("chidao.so@camau.gov.vn") if number in m["Subject"]]
    assert again["Subject"].startswith("[Nhắc lại]")
    # A webhook carries the reminder with only its own delivery's target shown.
    for _, body, _ in hook.of(missed["id"]):
        sent = json.loads(body)["reminder"]["deliveries"]
        assert {d["target"] for d in sent} == {hook_url, None}

    # The office it was escalated to sees it; only the department answers for it.
    office = {"Authorization": f"Bearer {await new_key(database_url, 'agency', 'vpubnd')}"}
    as_office = await client.get(url, headers=office)
    assert as_office.status_code == 200
    assert {d["target"] for d in as_office.json()["deliveries"]} == {"chidao.so@camau.gov.vn", None}
    seen = (await client.get("/v1/reminders", headers=office)).json()["reminders"]
    assert missed["id"] in [r["id"] for r in seen]
    assert all("vpubnd" in (r["unit"], r["escalated_to"]) for r in seen)
    assert (await client.post(f"{url}/ack", headers=office)).status_code == 403

    # Acknowledged by the department itself; another department's key does not find it.
    assert (await client.post(f"{url}/ack", headers=keys["syt"])).status_code == 404
    assert (await client.post(f"{url}/ack", headers=reader)).status_code == 403
    acked = await client.post(f"{url}/ack", headers=keys["tthcc"])
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    twice = await client.post(f"{url}/ack", headers=keys["tthcc"])  # twice is as once
    assert (twice.status_code, twice.json()["events"]) == (200, acked.json()["events"])

    # The feed catches up (the 26th to the 29th), but for one ward, two days behind: the
    # department's reminder resolves itself, the ward gets one of its own.
    late = ["2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"]
    await ingest(
        {
            DOSSIERS: [
                dossier_day(d, c)
                for d in late
                for c in COMMUNES
                if c != "32201" or d < "2026-11-28"
            ]
        },
    )
    t2 = t1 + timedelta(minutes=10)
    await served.evaluate(t2)
    resolved = (await client.get(url, headers=keys["tthcc"])).json()
    assert resolved["status"] == "resolved"
    assert "no longer holds" in resolved["resolution"]
    over = await client.post(f"{url}/ack", headers=keys["tthcc"])
    assert over.status_code == 409  # the state machine's refusal
    assert "a reminder resolved cannot become acknowledged" in over.json()["detail"]
    life = [e["event"] for e in resolved["events"]]
    assert life[0] == "issued"
    assert life.index("escalated") < life.index("acknowledged") < life.index("resolved")
    assert life.count("delivered") == 5  # e-mail and webhook, then both again and the office's
    wards = [
        r for r in await reminders_of(database_url, "missed-deadline") if r["status"] != "resolved"
    ]
    assert [(r["unit"], r["figures"]["days_behind"]) for r in wards] == [("32201", 2)]
    # The ward's own key lists its reminder and nothing else, and acknowledges it.
    ward = {"Authorization": f"Bearer {await new_key(database_url, 'agency', '32201')}"}
    listed = (await client.get("/v1/reminders", headers=ward)).json()["reminders"]
    assert {r["unit"] for r in listed} == {"32201"}
    acked = await client.post(f"/v1/reminders/{wards[0]['id']}/ack", headers=ward)
    assert (acked.status_code, acked.json()["status"]) == (200, "acknowledged")

    # A task whose lead unit no unit file knows: kept, and shown where the quality is.
    quality = (await client.get("/v1/quality", headers=reader)).json()
    assert quality["unknown_units"] == [
        {"feed": TASKS, "entity": "T-X-1", "named": "Ban Quản lý dự án X"}
    ]

    # Scorecards and the ranking, against the test's own reading of the stored days.
    syt = (await client.get("/v1/units/syt", headers=reader)).json()
    assert (syt["today"]["tasks_assigned"], syt["today"]["tasks_overdue"]) == (2, 1)
    assert syt["today"]["completion_rate"] == 0.0
    sxd = (await client.get("/v1/units/sxd", headers=reader)).json()
    assert sxd["today"]["completion_rate"] == 1.0  # "Sở XD" is the department's alias
    tthcc = (await client.get("/v1/units/tthcc", headers=reader)).json()
    # The day so far (the 29th in Cà Mau): behind from its midnight to t1 (19:00), on time for
    # the 10 minutes to t2. A day's score is over the time it covers, not its last snapshot.
    assert tthcc["today"]["timeliness"] == pytest.approx(600 / (19 * 3600 + 600))
    week = tthcc["over_7_days"]
    # No day on time: the 26th to the 28th behind, the 29th behind until 19:10, past its 17:00
    # deadline (by its last snapshot alone, the 29th had counted as on time).
    assert (week["days_scored"], week["days_on_time"]) == (4, 0)
    ranking = (await client.get("/v1/units/ranking", headers=reader)).json()
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT unit, avg(score) AS score FROM unit_scores"
            " WHERE day > $1::date - 7 AND score IS NOT NULL GROUP BY unit",
            (t2 + timedelta(hours=7)).date(),
        )
    finally:
        await connection.close()
    expected = {}  # within each kind: departments among departments, communes among communes
    for kind in ("department", "commune"):
        scored = [
            (r["unit"], round(r["score"], 4))
            for r in rows
            if (r["unit"] in COMMUNES) == (kind == "commune")
        ]
        expected[kind] = [
            (kind, unit, score, place)
            for place, (unit, score) in enumerate(sorted(scored, key=lambda us: (-us[1], us[0])), 1)
        ]
    assert expected["department"]
    assert expected["commune"]
    shown = [(u["kind"], u["unit"], u["score"], u["rank"]) for u in ranking["units"]]
    assert shown == expected["department"] + expected["commune"]
    leaders = [e[1] for each in expected.values() for e in each[:3]]
    laggards = [e[1] for each in expected.values() for e in list(reversed(each[3:]))[:3]]
    assert [u["unit"] for u in ranking["leaders"]] == leaders
    assert [u["unit"] for u in ranking["laggards"]] == laggards
    one_kind = await client.get("/v1/units/ranking", params={"kind": "commune"}, headers=reader)
    communes = one_kind.json()
    shown = [(u["kind"], u["unit"], u["score"], u["rank"]) for u in communes["units"]]
    assert shown == expected["commune"]
    assert [u["unit"] for u in communes["leaders"]] == [e[1] for e in expected["commune"][:3]]
    unknown = await client.get("/v1/units/ranking", params={"kind": "ward"}, headers=reader)
    assert unknown.status_code == 422


@pytest.mark.asyncio(loop_scope="session")
async def test_two_api_processes_evaluating_at_once_raise_one_reminder_per_cause(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], database_url: str
) -> None:
    examples = feeds[DOSSIERS].examples_path.read_bytes().splitlines()
    await Ingest(settings, feeds)({DOSSIERS: examples})
    # The IOC scored the department yesterday too (the rule's evidence: two days it saw).
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO unit_scores (unit, day) VALUES ('tthcc', $1)",
            province_day(datetime.now(UTC)) - timedelta(days=1),
        )
    finally:
        await connection.close()
    env = service_env(
        settings,
        IOC_REMINDERS_EVERY_S="0.2",
        IOC_REMINDERS_DELIVER_EVERY_S="3600",
    )
    ports = [free_port(), free_port()]
    with (
        running_service(
            ["api", "--port", str(ports[0])], env, f"http://127.0.0.1:{ports[0]}/readyz"
        ),
        running_service(
            ["api", "--port", str(ports[1])], env, f"http://127.0.0.1:{ports[1]}/readyz"
        ),
    ):
        connection = await asyncpg.connect(database_url)
        try:

            async def evaluated() -> bool:
                issued: int = await connection.fetchval(
                    "SELECT count(*) FROM reminders WHERE unit = 'tthcc'"
                )
                return issued > 0

            await eventually(evaluated)
            await asyncio.sleep(2)  # both processes evaluate again and again meanwhile
            doubled = await connection.fetch(
                "SELECT unit, cause FROM reminders GROUP BY unit, cause HAVING count(*) > 1"
            )
            issued = await connection.fetchval(
                "SELECT count(*) FROM reminder_events WHERE event = 'issued'"
            )
            total = await connection.fetchval("SELECT count(*) FROM reminders")
            causes = await connection.fetch("SELECT unit, cause FROM reminders")
        finally:
            await connection.close()
    assert doubled == []
    assert issued == total
    assert ("tthcc", f"missed-deadline:{DOSSIERS}") in {(r["unit"], r["cause"]) for r in causes}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_reminder_issued_by_hand_that_cannot_be_delivered_is_given_up_loudly(
    settings: CommonSettings,
    schemas: Path,
    webhook_secrets: Path,
    served: Served,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = service_env(
        replace(settings, schemas_dir=schemas), IOC_WEBHOOK_SECRETS_DIR=str(webhook_secrets)
    )

    def ioc(*args: str) -> str:
        done = run_ioc(env, "reminders", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    issued = ioc(
        "issue",
        "--unit",
        "sxd",
        "--cause",
        "Camera giao thông ngừng gửi hình",
        "--asked",
        "Đề nghị kiểm tra camera.",
    )
    reminder = int(issued.split()[2])
    nobody = free_port()  # nothing listens there: every SMTP attempt is refused
    served.reminding = replace(
        served.reminding,
        settings=replace(served.reminding.settings, smtp_port=nobody, max_attempts=3),
    )
    issued_at = datetime.now(UTC)  # `ioc reminders issue` is on the real clock
    with caplog.at_level(logging.WARNING, logger="ioc.reminders"):
        for second in range(1, 20):
            await served.deliver(issued_at + timedelta(seconds=second))
    [given_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "given up after 3 attempts" in given_up.getMessage()
    assert REMINDERS_UNDELIVERED.labels(channel="email")._value.get() == 1
    # The unit's own key sees why its delivery failed; a reader key (the wall's) that it
    # failed, not the mail relay's address nor the error.
    own = {"Authorization": f"Bearer {await new_key(settings.database_url, 'agency', 'sxd')}"}
    shown = (await served.client.get(f"/v1/reminders/{reminder}", headers=own)).json()
    [mail] = shown["deliveries"]
    assert (mail["status"], mail["attempts"]) == ("failed", 3)
    assert f"SMTP 127.0.0.1:{nobody}" in mail["last_error"]
    assert "Connection refused" in mail["last_error"]
    assert [e["event"] for e in shown["events"]] == ["issued", "delivery_failed"]
    assert shown["events"][1]["detail"]["error"] == mail["last_error"]
    assert shown["events"][0]["actor"].startswith("operator ")
    reader = {"Authorization": f"Bearer {await new_key(settings.database_url, 'reader', 'ops')}"}
    as_reader = (await served.client.get(f"/v1/reminders/{reminder}", headers=reader)).json()
    [mail] = as_reader["deliveries"]
    assert (mail["channel"], mail["status"], mail["attempts"]) == ("email", "failed", 3)
    assert (mail["target"], mail["last_error"]) == (None, None)
    assert as_reader["events"][1]["detail"] == {"channel": "email"}

    assert f"{reminder}  open" in ioc("list", "--unit", "sxd")
    ioc("resolve", str(reminder), "--how", "camera thay mới")
    await served.deliver(issued_at + timedelta(minutes=1))  # the metrics follow the register
    assert REMINDERS_UNDELIVERED.labels(channel="email")._value.get() == 0


@pytest.fixture
def tls_relay(tmp_path: Path) -> Iterator[tuple[Mailbox, int, Path]]:
    """A relay that takes mail only after STARTTLS, its certificate from a throwaway CA (the
    returned file)."""
    ca = throwaway_ca(tmp_path, "ca")
    key, cert = signed(tmp_path, "relay", "127.0.0.1", ca, server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield box, port, ca[1]
    finally:
        controller.stop()


@pytest.mark.asyncio(loop_scope="session")
async def test_email_goes_only_to_a_relay_whose_certificate_the_ca_signed(
    tmp_path: Path, tls_relay: tuple[Mailbox, int, Path]
) -> None:
    box, port, ca = tls_relay
    rogue = throwaway_ca(tmp_path, "rogue-ca")[1]  # a man in the middle's, as the relay sees it
    notice = Notice(
        number="7/PNV-IOC",
        issued_on="Cà Mau, ngày 27 tháng 11 năm 2026",
        issuing_body="Trung tâm IOC",
        unit="Sở Y tế",
        title="Thử gửi thư",
        lines=("Một dòng.",),
        asked="Đề nghị kiểm tra.",
        respond_by="09 giờ 00 ngày 30/11/2026",
        copies=(),
        escalated=False,
    )
    outgoing = Outgoing(
        id=uuid.uuid4(),
        reminder={"id": 7},
        occasion="issued",
        target="vanphong.syt@camau.gov.vn",
        unit="syt",
        at=T0,
        notice=notice,
    )

    def trusting(cafile: Path) -> ReminderSettings:
        return ReminderSettings.from_env(
            {
                "IOC_SMTP_HOST": "127.0.0.1",
                "IOC_SMTP_PORT": str(port),
                "IOC_SMTP_STARTTLS": "1",
                "IOC_SMTP_CA_FILE": str(cafile),
            }
        )

    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        await Email().send(outgoing, trusting(rogue))
    assert box.messages == []
    await Email().send(outgoing, trusting(ca))
    [mail] = box.messages
    assert mail["To"] == "vanphong.syt@camau.gov.vn"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_nul_in_a_reminders_filter_matches_nothing(
    db: Any, client: httpx.AsyncClient
) -> None:
    # PostgreSQL text cannot hold NUL: `make test-faults`' fuzzing met a 500 here.
    _, key = await issue_key(db, "reader", "wall")
    for name in ("unit", "rule"):
        response = await client.get(
            "/v1/reminders", params={name: "x\x00"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["reminders"] == []


def issue_by_hand(settings: CommonSettings, schemas: Path, webhook_secrets: Path) -> int:
    """A reminder to the Department of Construction (one e-mail address), issued with the
    command line; its id."""
    env = service_env(
        replace(settings, schemas_dir=schemas), IOC_WEBHOOK_SECRETS_DIR=str(webhook_secrets)
    )
    done = run_ioc(
        env,
        "reminders",
        "issue",
        "--unit",
        "sxd",
        "--cause",
        "Camera ngừng gửi hình",
        "--asked",
        "Đề nghị kiểm tra camera.",
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[2])


@pytest.mark.asyncio(loop_scope="session")
async def test_a_delivery_that_fails_in_any_way_does_not_stop_the_others(
    settings: CommonSettings,
    schemas: Path,
    webhook_secrets: Path,
    served: Served,
    mailbox: tuple[Mailbox, int],
) -> None:
    reminder = issue_by_hand(settings, schemas, webhook_secrets)
    issued_at = datetime.now(UTC)  # `ioc reminders issue` is on the real clock
    connection = await asyncpg.connect(settings.database_url)
    try:
        # A channel this version no longer has (its deliveries outlive it), due first: the
        # delivery loop raised KeyError on it and rolled back the e-mail it had sent.
        await connection.execute(
            "INSERT INTO reminder_deliveries (id, reminder_id, occasion, channel, target,"
            " status, next_attempt_at) VALUES ($1, $2, 'issued', 'sms', '+84900000000',"
            " 'pending', $3)",
            uuid.uuid4(),
            reminder,
            issued_at - timedelta(hours=1),
        )
        assert await served.deliver(issued_at + timedelta(seconds=1)) == 1
        rows = await connection.fetch(
            "SELECT channel, status, attempts, last_error FROM reminder_deliveries"
            " WHERE reminder_id = $1 ORDER BY channel",
            reminder,
        )
    finally:
        await connection.close()
    assert [tuple(row) for row in rows] == [
        ("email", "delivered", 1, None),
        ("sms", "pending", 1, "no channel 'sms' any more"),
    ]
    assert len(mailbox[0].to("vanphong.sxd@camau.gov.vn")) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_a_slow_relay_holds_no_transaction_and_its_delivery_goes_once(
    settings: CommonSettings,
    schemas: Path,
    webhook_secrets: Path,
    served: Served,
    mailbox: tuple[Mailbox, int],
) -> None:
    box = mailbox[0]
    box.gate = threading.Event()
    reminder = issue_by_hand(settings, schemas, webhook_secrets)
    issued_at = datetime.now(UTC)
    sending = asyncio.create_task(served.deliver(issued_at + timedelta(seconds=1)))
    connection = await asyncpg.connect(settings.database_url)
    try:

        async def at_the_relay() -> bool:
            return box.waiting == 1

        await eventually(at_the_relay)
        # While the relay takes its time, no transaction is held open (the evaluation needs
        # the locks), and another round of deliveries leaves the claimed one alone.
        idle_in_transaction = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
        )
        assert idle_in_transaction == 0
        assert (
            await deliver_due(served.pool, served.reminding, issued_at + timedelta(seconds=2)) == 0
        )
        box.gate.set()
        assert await sending == 1
        status = await connection.fetchval(
            "SELECT status FROM reminder_deliveries WHERE reminder_id = $1", reminder
        )
    finally:
        box.gate.set()
        await connection.close()
    assert status == "delivered"
    assert box.waiting == 1
    assert len(box.to("vanphong.sxd@camau.gov.vn")) == 1


async def store_rows(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(database_url)
    try:
        return [dict(row) for row in await connection.fetch(query, *args)]
    finally:
        await connection.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_fresh_install_reminds_on_evidence_and_a_feed_never_sent_most_of_all(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    database_url: str,
    served: Served,
    mailbox: tuple[Mailbox, int],
) -> None:
    box = mailbox[0]
    # Its first minute: nothing was ever sent and one day is scored: nobody is reminded (a
    # weekly mean of one day, a feed expected since an hour), nothing is mailed.
    await served.evaluate(T0)
    await served.deliver(T0)
    assert await store_rows(database_url, "SELECT id FROM reminders") == []
    assert box.messages == []

    # Its second day: the daily feed never sent has missed two deadlines the IOC saw, the
    # most behind a feed can be; its department is reminded, the communes answered for by it.
    day2 = T0 + timedelta(days=1)
    await served.evaluate(day2)
    reminded = await store_rows(database_url, "SELECT unit, rule FROM reminders")
    assert reminded == [{"unit": "tthcc", "rule": "missed-deadline"}]
    [never] = await reminders_of(database_url, "missed-deadline")
    figures = never["figures"]
    assert (figures["never_sent"], figures["days_behind"], figures["days_covered"]) == (True, 2, 2)
    assert (figures["from"], figures["to"]) == ("2026-11-27", "2026-11-28")
    assert "chưa từng gửi số liệu" in figures["vi"][0]

    # The figures arrive before the notice went out: the reminder is resolved and its
    # deliveries cancelled, not sent late; the register says how many.
    ingest = Ingest(settings, feeds)
    await ingest(
        {DOSSIERS: [dossier_day(d, c) for d in ("2026-11-27", "2026-11-28") for c in COMMUNES]}
    )
    await served.evaluate(day2 + timedelta(minutes=1))
    assert await served.deliver(day2 + timedelta(minutes=1)) == 0
    deliveries = await store_rows(
        database_url,
        "SELECT channel, status FROM reminder_deliveries WHERE reminder_id = $1",
        never["id"],
    )
    assert deliveries
    assert {d["status"] for d in deliveries} == {"cancelled"}
    assert box.to("tthcc@camau.gov.vn") == []
    key = await new_key(database_url, "agency", "tthcc")
    shown = await served.client.get(
        f"/v1/reminders/{never['id']}", headers={"Authorization": f"Bearer {key}"}
    )
    assert shown.json()["status"] == "resolved"
    assert {d["status"] for d in shown.json()["deliveries"]} == {"cancelled"}
    [resolved] = [e for e in shown.json()["events"] if e["event"] == "resolved"]
    assert resolved["detail"]["deliveries_cancelled"] == len(deliveries)

    # A weekly mean reminds once it covers five days the IOC scored, and says so.
    for day in range(2, 5):
        await served.evaluate(T0 + timedelta(days=day))
        if day < 4:
            assert await reminders_of(database_url, "live-below") == []
    low = await reminders_of(database_url, "live-below")
    assert low
    for reminder in low:
        assert reminder["figures"]["days_covered"] == 5
        assert "over the 5 days scored" in reminder["figures"]["en"][0]
        assert "tính trên 5 ngày có số liệu" in reminder["figures"]["vi"][0]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_communes_reminder_follows_what_is_true_of_the_commune(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    database_url: str,
    served: Served,
) -> None:
    def days(first: date, last: date, communes: Iterable[str]) -> list[bytes]:
        span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return [dossier_day(day.isoformat(), c) for day in span for c in communes]

    others = [c for c in COMMUNES if c != "32201"]
    ingest = Ingest(settings, feeds)
    # Every commune sends to the 27th but Thới Bình, to the 25th: it is reminded itself.
    await ingest(
        {
            DOSSIERS: days(date(2026, 11, 23), date(2026, 11, 27), others)
            + days(date(2026, 11, 23), date(2026, 11, 25), ["32201"])
        }
    )
    for day in (-1, 0):
        await served.evaluate(T0 + timedelta(days=day))
    [ward] = await reminders_of(database_url, "missed-deadline")
    assert (ward["unit"], ward["status"], ward["figures"]["days_behind"]) == ("32201", "open", 2)

    # Nobody sends the 28th nor the 29th: the whole feed is behind and its department is
    # reminded. The ward is still behind: its reminder stays open as issued (not "cause
    # cleared"), and no other commune is written to (the department answers for the feed).
    for day in (1, 2):
        await served.evaluate(T0 + timedelta(days=day) - timedelta(minutes=30))
    rows = await reminders_of(database_url, "missed-deadline")
    assert [(r["unit"], r["status"] != "resolved") for r in rows] == [
        ("32201", True),
        ("tthcc", True),
    ]
    assert (rows[0]["id"], rows[0]["figures"]) == (ward["id"], ward["figures"])

    # The feed recovers but for the ward: the department's reminder is resolved; the ward's,
    # still behind, is the same reminder, not a new one with a new number.
    await ingest({DOSSIERS: days(date(2026, 11, 28), date(2026, 11, 29), others)})
    recovered = T0 + timedelta(days=2)
    await served.evaluate(recovered)
    rows = await reminders_of(database_url, "missed-deadline")
    assert [(r["id"], r["unit"], r["status"] == "resolved") for r in rows] == [
        (ward["id"], "32201", False),
        (rows[1]["id"], "tthcc", True),
    ]

    # An operator resolves it by hand while the ward is still behind: the resolution stands.
    async with served.pool.acquire() as connection, connection.transaction():
        await repository.resolve(
            connection, ward["id"], "đã gọi điện nhắc", "operator test", recovered
        )
    await served.evaluate(T0 + timedelta(days=3))
    assert [r["unit"] for r in await reminders_of(database_url, "missed-deadline")] == [
        "32201",
        "tthcc",
    ]

    # The ward catches up (the cause clears), then falls two days behind again: that is a
    # new cause, and a new reminder.
    await ingest(
        {
            DOSSIERS: days(date(2026, 11, 26), date(2026, 11, 30), ["32201"])
            + days(date(2026, 11, 30), date(2026, 11, 30), others)
        }
    )
    await served.evaluate(T0 + timedelta(days=3, minutes=10))
    await ingest({DOSSIERS: days(date(2026, 12, 1), date(2026, 12, 2), others)})
    for day in (4, 5):
        await served.evaluate(T0 + timedelta(days=day))
    rows = await reminders_of(database_url, "missed-deadline")
    assert [(r["unit"], r["status"]) for r in rows] == [
        ("32201", "resolved"),
        ("tthcc", "resolved"),
        ("32201", "open"),
    ]
    assert (rows[2]["figures"]["from"], rows[2]["figures"]["to"]) == ("2026-12-01", "2026-12-02")
    events = await store_rows(
        database_url,
        "SELECT event FROM reminder_events WHERE reminder_id = $1 ORDER BY id",
        ward["id"],
    )
    assert [e["event"] for e in events if e["event"] in ("issued", "resolved")] == [
        "issued",
        "resolved",
    ]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_reminder_open_under_a_rule_no_file_defines_is_refused_at_start(
    settings: CommonSettings, database_url: str, tmp_path: Path
) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(Path(__file__).parents[3] / "schemas", schemas)
    (schemas / "reminders" / "clean-below.yaml").unlink()  # deleted, or renamed
    connection = await asyncpg.connect(database_url)
    try:
        orphan = await connection.fetchval(
            "INSERT INTO reminders (unit, cause, rule, status, figures, respond_by, issued_at,"
            " updated_at) VALUES ('syt', 'clean-below', 'clean-below', 'open', '{}', $1, $1, $1)"
            " RETURNING id",
            T0,
        )
    finally:
        await connection.close()
    app = create_app(api_settings(replace(settings, schemas_dir=schemas)), clock=lambda: T0)
    with pytest.raises(UnknownRule, match=f"rule 'clean-below': reminders {orphan}"):
        async with app.router.lifespan_context(app):
            pass

    env = service_env(replace(settings, schemas_dir=schemas))
    refused = run_ioc(env, "reminders", "evaluate")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert f"rule 'clean-below': reminders {orphan}" in line
    assert "ioc reminders resolve" in line
    # Resolved by hand, with the reason: the API starts.
    done = run_ioc(env, "reminders", "resolve", str(orphan), "--how", "rule withdrawn")
    assert done.returncode == 0, done.stderr
    async with app.router.lifespan_context(app):
        pass


@pytest.mark.asyncio(loop_scope="session")
async def test_tasks_newly_overdue_are_told_in_a_follow_up_the_issued_notice_as_issued(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    database_url: str,
    served: Served,
    mailbox: tuple[Mailbox, int],
) -> None:
    box = mailbox[0]
    ingest = Ingest(settings, feeds)
    await ingest({TASKS: [task("T-SYT-1", "Sở Y tế", "2026-11-20", "dang_thuc_hien")]})
    await served.evaluate(T0)
    await served.deliver(T0)
    [overdue] = await reminders_of(database_url, "task-overdue")
    assert [t["task"] for t in overdue["figures"]["tasks"]] == ["T-SYT-1"]

    # Two more of the department's tasks are past due and not done while it is open.
    await ingest(
        {
            TASKS: [
                task("T-SYT-2", "Sở Y tế", "2026-11-25", "dang_thuc_hien"),
                task("T-SYT-3", "Sở Y tế", "2026-11-26", "chua_thuc_hien"),
            ]
        }
    )
    later = T0 + timedelta(hours=1)
    await served.evaluate(later)
    await served.evaluate(later + timedelta(minutes=5))  # told once, not at every evaluation
    await served.deliver(later + timedelta(minutes=5))

    [still] = await reminders_of(database_url, "task-overdue")
    assert (still["id"], still["figures"]) == (overdue["id"], overdue["figures"])  # as issued
    key = {"Authorization": f"Bearer {await new_key(database_url, 'agency', 'syt')}"}
    url = f"/v1/reminders/{overdue['id']}"
    shown = (await served.client.get(url, headers=key)).json()
    [added] = shown["follow_ups"]
    assert (added["follow_up"], added["number"]) == (1, f"{overdue['id']}-1/PNV-IOC")
    assert [t["task"] for t in added["figures"]["tasks"]] == ["T-SYT-2", "T-SYT-3"]
    assert [e["event"] for e in shown["events"]].count("followed_up") == 1
    told = [d for d in shown["deliveries"] if d["occasion"] == "follow_up"]
    assert [(d["follow_up"], d["status"]) for d in told] == [(1, "delivered")]

    # Delivered as the first was: its own number, naming the notice it follows, listing only
    # what is new; the issued notice still lists what it listed.
    mails = box.to("vanphong.syt@camau.gov.vn")
    [first] = [m for m in mails if m["Subject"].startswith("Phiếu nhắc việc")]
    [follow_up] = [m for m in mails if m["Subject"].startswith("[Bổ sung]")]
    assert f"số {overdue['id']}-1/PNV-IOC" in follow_up["Subject"]
    [attachment] = list(follow_up.iter_attachments())
    text = pdf_text(attachment.get_content())
    assert f"Bổ sung Phiếu nhắc việc số {overdue['id']}/PNV-IOC ngày 27/11/2026" in text
    assert "T-SYT-2" in text
    assert "T-SYT-3" in text
    assert "T-SYT-1" not in text
    issued = await served.client.get(f"{url}/notice.pdf", headers=key)
    assert "T-SYT-1" in pdf_text(issued.content)
    assert "T-SYT-2" not in pdf_text(issued.content)
    assert f"số {overdue['id']}/PNV-IOC" in first["Subject"]
