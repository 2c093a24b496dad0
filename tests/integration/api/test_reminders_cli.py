"""`ioc reminders list` says each cause in words and whether it was delivered; `ioc reminders
show N` says why, the figures, every delivery and the history, times in the province's zone and
no webhook's token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.api.reminders import repository
from services.common.db import create_pool
from services.common.topics import Topics
from tests.integration.conftest import StackUnderTest, settings_for
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 18:00 in Cà Mau
HOOK = "https://hooks.example.vn/ioc?token=t0ken-in-the-query"
FIGURES = {
    "feed": "admin-dossiers",
    "days_behind": 3,
    "due": "17:00",
    "vi": ["Nguồn dữ liệu admin-dossiers: thiếu số liệu 3 ngày liên tiếp sau thời hạn 17:00."],
    "en": ["Feed admin-dossiers: figures missing 3 days running past the 17:00 deadline."],
    "title": {"vi": "Chậm gửi số liệu", "en": "Figures missing past the deadline"},
    "asked": {"vi": "Đề nghị cập nhật.", "en": "Send the missing figures."},
}


async def _register(database_url: str) -> tuple[int, int]:
    pool = await create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as connection, connection.transaction():
            delivering = await repository.issue(
                connection,
                unit="tthcc",
                cause="missed-deadline:admin-dossiers",
                rule="missed-deadline",
                figures=FIGURES,
                respond_by=T0 + timedelta(hours=72),
                now=T0,
                actor="ioc",
            )
            assert delivering is not None
            targets = [("email", "vanphong@tthcc.example.vn"), ("webhook", HOOK)]
            await repository.add_deliveries(connection, delivering, "issued", targets, T0)
            claimed = await repository.claim_due(connection, T0, timedelta(minutes=5))
            due = {d.channel: d for d in claimed}
            await repository.delivered(connection, due["email"], T0 + timedelta(minutes=1))
            await repository.failed_attempt(
                connection, due["webhook"], f"HTTP 500 from {HOOK}", None, T0 + timedelta(hours=1)
            )
            pending = await repository.issue(
                connection,
                unit="sxd",
                cause="manual:camera",
                rule="manual",
                figures={"title": {"en": "Reminder"}, "asked": {"en": "Check the camera."}},
                respond_by=T0 + timedelta(hours=24),
                now=T0 + timedelta(hours=2),
                actor="operator lan",
            )
            assert pending is not None
            await repository.add_deliveries(
                connection, pending, "issued", [("email", "sxd@example.vn")], T0
            )
            return delivering, pending
    finally:
        await pool.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_list_says_the_cause_in_words_and_show_says_why_figures_deliveries_and_history(
    stack: StackUnderTest, database_url: str, db: Any
) -> None:
    delivering, pending = await _register(database_url)
    env = service_env(settings_for(database_url, stack.kafka, Topics("")))

    listed = run_ioc(env, "reminders", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows, footer = listed.stdout.splitlines()
    assert header.split() == ["id", "status", "unit", "issued", "delivered", "cause"]
    assert rows == [
        f"{pending:>5}  open         sxd      2026-11-27 20:00 +07:00  0/1, trying    Reminder",
        f"{delivering:>5}  open         tthcc    2026-11-27 18:00 +07:00  1/2, 1 failed  Feed"
        " admin-dossiers: figures missing 3 days running past the 17:00 deadline.",
    ]
    assert footer == "2 reminders, times in Asia/Ho_Chi_Minh"

    shown = run_ioc(env, "reminders", "show", str(delivering))
    assert shown.returncode == 0, shown.stderr
    assert "t0ken-in-the-query" not in shown.stdout
    assert shown.stdout.splitlines() == [
        f"reminder {delivering} ({delivering}/PNV-IOC) to tthcc: open",
        "why:          Figures missing past the deadline",
        "              Feed admin-dossiers: figures missing 3 days running past the 17:00"
        " deadline.",
        "asked:        Send the missing figures.",
        "figures:      days_behind=3, due=17:00, feed=admin-dossiers",
        "cause:        missed-deadline:admin-dossiers (rule missed-deadline)",
        "issued:       2026-11-27 18:00 +07:00",
        "respond by:   2026-11-30 18:00 +07:00",
        "deliveries:   1/2, 1 failed",
        "  issued    email    vanphong@tthcc.example.vn: delivered 2026-11-27 18:01 +07:00,"
        " 1 attempt",
        "  issued    webhook  https://hooks.example.vn/ioc?[redacted]: failed, 1 attempt",
        "            last error: HTTP 500 from https://hooks.example.vn/ioc?[redacted]",
        "history:",
        "  2026-11-27 18:00 +07:00  issued          by ioc  (cause=missed-deadline:admin-dossiers)",
        "  2026-11-27 18:01 +07:00  delivered       by ioc  (channel=email, occasion=issued,"
        " target=vanphong@tthcc.example.vn)",
        "  2026-11-27 19:00 +07:00  delivery_failed by ioc  (channel=webhook, error=HTTP 500 from"
        " https://hooks.example.vn/ioc?[redacted], target=https://hooks.example.vn/ioc?[redacted])",
        "times in Asia/Ho_Chi_Minh",
    ]
    missing = run_ioc(env, "reminders", "show", "999999")
    assert missing.returncode == 1
    assert missing.stderr == "ioc reminders show: no reminder 999999\n"
