"""The IOC's operators on the register, with an operator's key (``ioc keys issue --operator``):
they issue a reminder by hand, resolve one saying how, list the deliveries that failed and try
one again, each an event under their name; they see the units' contacts and where every
delivery went and why it failed. Readers' and units' keys may do none of it (403). E-mail goes
to a real SMTP server (aiosmtpd), first to a port where nothing listens."""

from __future__ import annotations

import contextlib
import email
import email.policy
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from services.api.app import create_app
from services.api.reminders import notice
from services.api.reminders.delivery import deliver_due
from services.api.reminders.evaluator import Reminding
from services.common.settings import CommonSettings
from services.mail_sink import EmlFiles
from tests.integration.api.conftest import api_settings
from tests.integration.api.test_reminders import Mailbox
from tests.integration.conftest import new_key
from tests.integration.processes import free_port, run_ioc, service_env

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 09:00 in Cà Mau
NOBODY = "127.0.0.1"


@dataclass
class Served:
    client: httpx.AsyncClient
    reminding: Reminding
    pool: Any


@contextlib.asynccontextmanager
async def serving(settings: CommonSettings, **reminders: Any) -> AsyncIterator[Served]:
    """The API on the test's store, its clock at T0, its reminders' settings as given."""
    configured = api_settings(settings)
    configured = replace(configured, reminders=replace(configured.reminders, **reminders))
    app = create_app(configured, clock=lambda: T0)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ioc") as client:
            state = app.state.ioc
            yield Served(client, state.reminding, state.pool)


@pytest_asyncio.fixture(loop_scope="session")
async def served(settings: CommonSettings) -> AsyncIterator[Served]:
    """Its e-mail relay a port nothing listens on; a delivery given up after its first failed
    attempt."""
    async with serving(settings, smtp_host=NOBODY, smtp_port=free_port(), max_attempts=1) as served:
        yield served


async def bearer(settings: CommonSettings, kind: Any, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {await new_key(settings.database_url, kind, subject)}"}


MANUAL = {
    "unit": "sxd",
    "cause": "Camera giao thông ngừng gửi hình",
    "asked": "Đề nghị kiểm tra camera.",
    "respond_within_hours": 24,
}


@pytest.mark.asyncio(loop_scope="session")
async def test_an_operator_issues_resolves_and_retries_in_their_own_name(
    settings: CommonSettings, served: Served
) -> None:
    client = served.client
    operator = await bearer(settings, "operator", "lan")
    reader = await bearer(settings, "reader", "wall")
    unit = await bearer(settings, "agency", "sxd")

    # Only an operator issues by hand.
    for other in (reader, unit):
        assert (await client.post("/v1/reminders", json=MANUAL, headers=other)).status_code == 403
    issued = await client.post("/v1/reminders", json=MANUAL, headers=operator)
    assert issued.status_code == 201, issued.text
    reminder = issued.json()
    assert (reminder["unit"], reminder["rule"], reminder["status"]) == ("sxd", "manual", "open")
    assert reminder["figures"]["vi"] == [MANUAL["cause"]]
    assert reminder["asked"]["vi"] == MANUAL["asked"]
    assert datetime.fromisoformat(reminder["respond_by"]) == T0 + timedelta(hours=24)
    assert [(e["event"], e["actor"]) for e in reminder["events"]] == [("issued", "operator lan")]
    [mail] = reminder["deliveries"]
    assert (mail["channel"], mail["target"], mail["status"]) == (
        "email",
        "vanphong.sxd@camau.gov.vn",
        "pending",
    )
    again = await client.post("/v1/reminders", json=MANUAL, headers=operator)
    assert again.status_code == 409  # one open reminder per unit and cause
    unknown = await client.post("/v1/reminders", json={**MANUAL, "unit": "nope"}, headers=operator)
    assert unknown.status_code == 422

    # The relay is down: the e-mail is given up. The operator sees where it went and why.
    assert await deliver_due(served.pool, served.reminding, T0) == 0
    for other in (reader, unit):
        assert (await client.get("/v1/deliveries", headers=other)).status_code == 403
    [failed] = (await client.get("/v1/deliveries", headers=operator)).json()["deliveries"]
    assert (failed["reminder_id"], failed["unit"], failed["status"]) == (
        reminder["id"],
        "sxd",
        "failed",
    )
    assert failed["target"] == "vanphong.sxd@camau.gov.vn"
    assert f"SMTP {NOBODY}:" in failed["last_error"]
    shown = (await client.get(f"/v1/reminders/{reminder['id']}", headers=operator)).json()
    assert shown["deliveries"][0]["last_error"] == failed["last_error"]
    assert shown["events"][-1]["detail"]["error"] == failed["last_error"]
    # A reader (the wall's key) sees that it failed, not where nor why.
    as_reader = (await client.get(f"/v1/reminders/{reminder['id']}", headers=reader)).json()
    assert (as_reader["deliveries"][0]["target"], as_reader["deliveries"][0]["last_error"]) == (
        None,
        None,
    )
    # The units' contacts: an operator's key and the unit's own, not a reader's.
    for who, seen in ((operator, True), (unit, True), (reader, False)):
        listed = (await client.get("/v1/units", headers=who)).json()["units"]
        sxd = next(u for u in listed if u["code"] == "sxd")
        expected = {"email": ["vanphong.sxd@camau.gov.vn"], "webhook": None} if seen else None
        assert sxd["contacts"] == expected
    detail = (await client.get("/v1/units/syt", headers=operator)).json()
    assert detail["contacts"]["email"]
    assert (await client.get("/v1/units/syt", headers=unit)).json()["contacts"] is None

    # The relay is back; the operator retries the delivery now, and it goes.
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        retry = f"/v1/deliveries/{failed['id']}/retry"
        assert (await client.post(retry, headers=reader)).status_code == 403
        retried = await client.post(retry, headers=operator)
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "pending"
        assert (await client.post(retry, headers=operator)).status_code == 409  # not failed now
        missing = "/v1/deliveries/00000000-0000-0000-0000-000000000000/retry"
        assert (await client.post(missing, headers=operator)).status_code == 404
        relay = replace(served.reminding.settings, smtp_port=port)
        reachable = replace(served.reminding, settings=relay)
        assert await deliver_due(served.pool, reachable, T0 + timedelta(seconds=1)) == 1
    finally:
        controller.stop()
    assert len(box.to("vanphong.sxd@camau.gov.vn")) == 1
    assert (await client.get("/v1/deliveries", headers=operator)).json()["deliveries"] == []

    # Resolved by the operator, saying how; once only; readers and units may not.
    resolve = f"/v1/reminders/{reminder['id']}/resolve"
    how = {"how": "Camera đã được thay mới"}
    for other in (reader, unit):
        assert (await client.post(resolve, json=how, headers=other)).status_code == 403
    resolved = await client.post(resolve, json=how, headers=operator)
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolution"]) == ("resolved", how["how"])
    assert [(e["event"], e["actor"]) for e in body["events"]] == [
        ("issued", "operator lan"),
        ("delivery_failed", "ioc"),
        ("delivery_retried", "operator lan"),
        ("delivered", "ioc"),
        ("resolved", "operator lan"),
    ]
    again = await client.post(resolve, json=how, headers=operator)
    assert again.status_code == 409  # the state machine's refusal, in its words
    assert "a reminder resolved cannot become resolved" in again.json()["detail"]
    assert (
        await client.post("/v1/reminders/999999/resolve", json=how, headers=operator)
    ).status_code == 404


@pytest.mark.asyncio(loop_scope="session")
async def test_ioc_keys_issue_operator_prints_a_key_the_api_takes_as_an_operators(
    settings: CommonSettings, served: Served
) -> None:
    done = run_ioc(service_env(settings), "keys", "issue", "--operator", "hoa")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("issued operator key #")
    headers = {"Authorization": f"Bearer {lines[-1]}"}
    issued = await served.client.post("/v1/reminders", json=MANUAL, headers=headers)
    assert issued.status_code == 201, issued.text
    assert issued.json()["events"][0]["actor"] == "operator hoa"
    listed = run_ioc(service_env(settings), "keys", "list")
    [row] = [line for line in listed.stdout.splitlines() if " hoa " in f"{line} "]
    assert row.split()[1] == "operator"


@pytest.mark.asyncio(loop_scope="session")
async def test_an_operator_lists_and_opens_what_the_local_mail_sink_kept(
    settings: CommonSettings, served: Served, tmp_path: Path
) -> None:
    client = served.client
    operator = await bearer(settings, "operator", "lan")
    reader = await bearer(settings, "reader", "wall")
    # No sink configured (production: a relay): nothing to list.
    assert (await client.get("/v1/mail", headers=operator)).status_code == 404
    # As `make up`'s API: its relay the local mail sink, which it may list (IOC_MAIL_SINK_DIR).
    port = free_port()
    controller = Controller(EmlFiles(tmp_path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with serving(
            settings, smtp_host="127.0.0.1", smtp_port=port, mail_sink_dir=tmp_path
        ) as local:
            client = local.client
            issued = (await client.post("/v1/reminders", json=MANUAL, headers=operator)).json()
            assert await deliver_due(local.pool, local.reminding, T0) == 1
            await _read_the_sink(client, issued["number"], operator, reader)
    finally:
        controller.stop()


async def _read_the_sink(
    client: httpx.AsyncClient, number: str, operator: dict[str, str], reader: dict[str, str]
) -> None:
    assert (await client.get("/v1/mail", headers=reader)).status_code == 403
    [kept] = (await client.get("/v1/mail", headers=operator)).json()["messages"]
    assert kept["to"] == "vanphong.sxd@camau.gov.vn"
    assert kept["subject"].startswith(f"Phiếu nhắc việc số {number}")
    opened = await client.get(f"/v1/mail/{kept['name']}", headers=operator)
    assert opened.headers["content-type"] == "message/rfc822"
    message = email.message_from_bytes(opened.content, policy=email.policy.default)
    assert message["Subject"] == kept["subject"]
    assert (await client.get(f"/v1/mail/{kept['name']}", headers=reader)).status_code == 403
    for wrong in ("..%2F..%2Fetc%2Fpasswd", "passwd"):  # only the sink's own names
        assert (await client.get(f"/v1/mail/{wrong}", headers=operator)).status_code in (404, 422)
    missing = "1000000000000000000-00000000.eml"
    assert (await client.get(f"/v1/mail/{missing}", headers=operator)).status_code == 404


@pytest.mark.asyncio(loop_scope="session")
async def test_the_notice_pdf_is_rendered_off_the_event_loop(
    settings: CommonSettings, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = await bearer(settings, "operator", "lan")
    issued = await served.client.post("/v1/reminders", json=MANUAL, headers=operator)
    assert issued.status_code == 201, issued.text
    rendered_in: list[int] = []
    render = notice.render_pdf

    def recording(shown: notice.Notice, font: Path) -> bytes:
        rendered_in.append(threading.get_ident())
        return render(shown, font)

    monkeypatch.setattr(notice, "render_pdf", recording)
    pdf = await served.client.get(
        f"/v1/reminders/{issued.json()['id']}/notice.pdf", headers=operator
    )
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    assert len(rendered_in) == 1
    assert rendered_in[0] != threading.get_ident()  # not the event loop's thread (this one)
