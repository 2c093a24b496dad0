"""The operators' console as an operator uses it, in headless Chromium (Debian's) against a
real API process that evaluates and delivers on its own: the register loads with what the API
lists, filtered by unit, rule and status; a reminder's whole history and deliveries; a reminder
issued by hand and resolved with a reason, both in the operator's name; the phiếu nhắc việc
link gives the PDF; the ranking of one kind with each unit's history; a delivery that failed
retried once the relay is back; the English toggle. Screenshots are kept in artifacts/."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import io
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from aiosmtpd.controller import Controller

from services.common.feeds import FeedDefinition
from services.common.keys import issue_key
from services.common.province import ZONE, province_day
from services.common.settings import REPO_ROOT, CommonSettings
from services.mail_sink import EmlFiles, messages
from tests.integration.api.test_wall import _browser_page
from tests.integration.pipeline import Ingest, eventually
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration

ARTIFACTS = REPO_ROOT / "artifacts"
OVERDUE_TASK = (
    '{"ma_nhiem_vu": "T-SYT-9", "noi_dung": "Bệnh án điện tử", "nam_ke_hoach": 2026, '
    '"han_hoan_thanh": "2026-11-01", "trang_thai": "dang_thuc_hien", '
    '"cap_nhat_luc": "2026-10-01T08:00:00+07:00", "don_vi_chu_tri": "Sở Y tế"}'
).encode()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_operator_follows_the_register_ranking_and_failed_deliveries_in_the_console(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any, tmp_path: Path
) -> None:
    # The Public Service Centre's daily figures stop days ago; a health task is overdue.
    dossiers = feeds["admin-dossiers"].examples_path.read_bytes().splitlines()
    await Ingest(settings, feeds)({"admin-dossiers": dossiers, "programme-tasks": [OVERDUE_TASK]})
    _, key = await issue_key(db, "operator", "lan")
    # Three earlier days of a commune's scores: its 30 days are a line, not one figure.
    today = province_day(datetime.now(UTC))  # the API's own clock, real (or shifted) alike
    for back, score in ((3, 0.2), (2, 0.6), (1, 0.9)):
        await db.execute(
            "INSERT INTO unit_scores (unit, day, score) VALUES ('32150', $1, $2)",
            today - timedelta(days=back),
            score,
        )
    # The IOC scored the department yesterday too: a missed deadline's evidence is two days.
    await db.execute(
        "INSERT INTO unit_scores (unit, day) VALUES ('tthcc', $1)", today - timedelta(days=1)
    )
    port, relay = free_port(), free_port()  # nothing listens at the relay's port at first
    mail = tmp_path / "mail"
    mail.mkdir()
    url = f"http://127.0.0.1:{port}"
    env = service_env(
        settings,
        IOC_REMINDERS_EVERY_S="1",
        IOC_REMINDERS_DELIVER_EVERY_S="1",
        IOC_REMINDERS_MAX_ATTEMPTS="1",
        IOC_SMTP_HOST="127.0.0.1",
        IOC_SMTP_PORT=str(relay),
        IOC_MAIL_SINK_DIR=str(mail),  # where the relay, once up, keeps what it is sent
    )
    headers = {"Authorization": f"Bearer {key}"}
    ARTIFACTS.mkdir(exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.to_thread(
            stack.enter_context,
            running_service(["api", "--port", str(port)], env, f"{url}/healthz"),
        )
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, headers=headers, timeout=10)
        )

        async def failed() -> bool:  # evaluated, and every e-mail given up (the relay is down)
            listed = (await http.get("/v1/deliveries")).json()["deliveries"]
            pending = await http.get("/v1/deliveries", params={"status": "pending"})
            return bool(listed) and not pending.json()["deliveries"]

        await eventually(failed)
        unresolved = (
            await http.get("/v1/reminders", params={"status": "unresolved", "limit": 1000})
        ).json()["reminders"]
        assert {"tthcc", "syt"} <= {r["unit"] for r in unresolved}

        # A browser in another zone than the province's: the console says the province's times.
        async with _browser_page(timezone_id="America/New_York") as page:
            await page.goto(f"{url}/console#key={key}")
            await page.wait_for_selector("body[data-ready]")
            assert "#key" not in page.url  # the key leaves the address bar at once
            rows = page.locator("#reminders tr.reminder")
            assert await rows.count() == len(unresolved)  # unresolved ones, by default
            assert await page.inner_text("nav button[data-view=register]") == "Sổ nhắc việc"
            newest = unresolved[0]
            issued = datetime.fromisoformat(newest["issued_at"]).astimezone(ZONE)
            row = page.locator(f'#reminders tr[data-id="{newest["id"]}"] td')
            assert await row.nth(4).inner_text() == issued.strftime("%H:%M %d/%m/%Y")

            # Filtered by unit, then by rule, then every status.
            await page.select_option("#filters select[name=unit]", "tthcc")
            await page.wait_for_function(
                "[...document.querySelectorAll('#reminders tr.reminder')]"
                ".every((row) => row.dataset.unit === 'tthcc')"
            )
            assert await rows.count() == sum(r["unit"] == "tthcc" for r in unresolved)
            await page.select_option("#filters select[name=unit]", "")
            await page.select_option("#filters select[name=rule]", "task-overdue")
            await page.wait_for_function(
                "[...document.querySelectorAll('#reminders tr.reminder')]"
                ".every((row) => row.dataset.rule === 'task-overdue')"
            )
            assert await rows.count() == sum(r["rule"] == "task-overdue" for r in unresolved)
            await page.select_option("#filters select[name=rule]", "")
            await page.select_option("#filters select[name=status]", "open")
            await page.wait_for_function(
                "[...document.querySelectorAll('#reminders tr.reminder')]"
                ".every((row) => row.dataset.status === 'open')"
            )

            # A reminder's whole history and deliveries, as the operator sees them: where the
            # e-mail went and why it failed.
            centre = next(r for r in unresolved if r["unit"] == "tthcc")
            await page.click(f'#reminders tr[data-id="{centre["id"]}"]')
            await page.wait_for_selector(f'#detail h2:has-text("{centre["number"]}")')
            events = await page.locator("#detail ul.events li").all()
            assert [await e.get_attribute("data-event") for e in events] == [
                "issued",
                "delivery_failed",
            ]
            delivery = await page.inner_text("#detail table.deliveries")
            assert "tthcc@camau.gov.vn" in delivery
            assert f"127.0.0.1:{relay}" in delivery  # the error names the relay
            assert "tthcc@camau.gov.vn" in await page.inner_text("#detail .contacts")

            # The phiếu nhắc việc: the link gives its PDF.
            async with page.expect_download() as download:
                await page.click("#detail a.pdf")
            document = await (await download.value).path()
            pdf = await asyncio.to_thread(document.read_bytes)
            assert pdf.startswith(b"%PDF")
            text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
            assert f"Số: {centre['number']}" in text

            # Issued by hand, then resolved with a reason, both in the operator's name.
            await page.select_option("#issue select[name=unit]", "sxd")
            await page.fill("#issue textarea[name=cause]", "Camera giao thông ngừng gửi hình")
            await page.fill("#issue textarea[name=asked]", "Đề nghị kiểm tra camera.")
            await page.click("#issue button[type=submit]")
            await page.wait_for_selector('#reminders tr.reminder[data-rule="manual"]')
            manual = await page.get_attribute(
                '#reminders tr.reminder[data-rule="manual"]', "data-id"
            )
            await page.wait_for_selector(f'#detail h2:has-text("{manual}/PNV-IOC")')
            await page.fill("#resolve input[name=how]", "Camera đã được thay mới")
            await page.screenshot(path=ARTIFACTS / "console-register.png", full_page=True)
            await page.click("#resolve button[type=submit]")
            await page.wait_for_selector("#detail .resolution")
            shown = (await http.get(f"/v1/reminders/{manual}")).json()
            assert (shown["status"], shown["resolution"]) == ("resolved", "Camera đã được thay mới")
            life = [(e["event"], e["actor"]) for e in shown["events"]]
            assert (life[0], life[-1]) == (("issued", "operator lan"), ("resolved", "operator lan"))

            # The ranking of communes and wards, each with its history.
            await page.click("nav button[data-view=ranking]")
            await page.select_option("#ranking select", "commune")
            ranking = (await http.get("/v1/units/ranking", params={"kind": "commune"})).json()
            assert ranking["units"]
            await page.wait_for_function(
                "document.querySelectorAll('#ranking tbody tr[data-kind=\"commune\"]').length"
                f" === {len(ranking['units'])}"
            )
            ranked = page.locator("#ranking tbody tr")
            assert [await r.get_attribute("data-unit") for r in await ranked.all()] == [
                u["unit"] for u in ranking["units"]
            ]
            history = page.locator('#ranking tr[data-unit="32150"] svg.history')
            assert await history.get_attribute("data-days") == "4"  # and today's
            await page.screenshot(path=ARTIFACTS / "console-ranking.png", full_page=True)
            first = await ranked.first.inner_text()
            assert ranking["units"][0]["name"] in first
            percent = math.floor(ranking["units"][0]["score"] * 100 + 0.5)  # as JavaScript rounds
            assert f"{percent}%" in first

            # The deliveries that failed; one retried once the relay is back, and it goes.
            await eventually(failed)  # the hand-issued one's e-mail too
            await page.click("nav button[data-view=deliveries]")
            listed = (await http.get("/v1/deliveries")).json()["deliveries"]
            failed_rows = page.locator("#deliveries tbody tr[data-delivery]")
            await page.wait_for_function(
                "document.querySelectorAll('#deliveries tbody tr[data-delivery]').length"
                f" === {len(listed)}"
            )
            await page.screenshot(path=ARTIFACTS / "console-deliveries.png", full_page=True)
            target = next(d for d in listed if d["target"] == "tthcc@camau.gov.vn")
            controller = Controller(EmlFiles(mail), hostname="127.0.0.1", port=relay)
            controller.start()
            stack.callback(controller.stop)
            await page.click(f'#deliveries tr[data-delivery="{target["id"]}"] button.retry')
            await page.wait_for_function(
                "document.querySelectorAll('#deliveries tbody tr[data-delivery]').length"
                f" === {len(listed) - 1}"
            )
            assert await failed_rows.count() == len(listed) - 1

            async def delivered() -> bool:
                return "tthcc@camau.gov.vn" in [m.to for m in messages(mail, 100)]

            await eventually(delivered)
            again = (await http.get(f"/v1/reminders/{target['reminder_id']}")).json()
            assert [(e["event"], e["actor"]) for e in again["events"]][-2:] == [
                ("delivery_retried", "operator lan"),
                ("delivered", "ioc"),
            ]

            # The mail sink's tab: the retried e-mail, as the sink kept it.
            await page.click("nav button[data-view=mail]")
            await page.wait_for_selector("#mail tr[data-mail]")
            kept = await page.inner_text("#mail tbody")
            assert "tthcc@camau.gov.vn" in kept
            assert f"Phiếu nhắc việc số {target['reminder_id']}/PNV-IOC" in kept
            async with page.expect_download() as download:
                await page.click("#mail a.eml")
            eml = await asyncio.to_thread((await (await download.value).path()).read_bytes)
            parsed = email.message_from_bytes(eml, policy=email.policy.default)
            assert parsed["To"] == "tthcc@camau.gov.vn"

            await page.click("#lang")
            await page.wait_for_function(
                "document.querySelector('nav button[data-view=deliveries]').textContent"
                " === 'Failed deliveries'"
            )
            assert await page.inner_text("#heading") == "IOC · Reminders console"


@pytest.mark.asyncio(loop_scope="session")
async def test_the_console_page_is_served_without_a_key_and_its_actions_need_an_operators(
    settings: CommonSettings, db: Any, client: httpx.AsyncClient
) -> None:
    page = await client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b"<script" in page.content
    # nothing fetched from elsewhere: the pages' shared script is the API's own
    assert re.findall(rb'src="([^"]*)"', page.content) == [b"/static/pages.js"]
    script = await client.get("/static/pages.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"src=" not in script.content
    _, reader = await issue_key(db, "reader", "wall")
    answer = await client.get("/v1/deliveries", headers={"Authorization": f"Bearer {reader}"})
    assert answer.status_code == 403
