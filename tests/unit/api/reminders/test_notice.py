"""The phiếu nhắc việc: the same notice as HTML (escaped) and as PDF (its text read back, the
Vietnamese letters intact)."""

from __future__ import annotations

import io
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest

from services.api.reminders import notice as notices
from services.api.reminders.channels import DeliveryError, Outgoing
from services.api.reminders.channels import email as email_channel
from services.api.reminders.notice import Notice, render_html, render_pdf, render_pdf_aside
from services.api.reminders.settings import DEFAULT_FONT, ReminderSettings
from services.common.feeds import load_feeds
from services.common.units import load_units
from tests.conftest import SCHEMAS_DIR

UNITS = load_units(SCHEMAS_DIR, load_feeds(SCHEMAS_DIR))


def reminder(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": 42,
        "unit": "syt",
        "rule": "task-overdue",
        "status": "open",
        "issued_at": datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        "respond_by": datetime(2026, 12, 3, 2, 0, tzinfo=UTC),
        "figures": {
            "title": {"vi": "Nhiệm vụ quá hạn chưa hoàn thành", "en": "Tasks overdue"},
            "asked": {"vi": "Đề nghị khẩn trương hoàn thành.", "en": "Complete them."},
            "vi": ["1 nhiệm vụ quá hạn:", "T-1 — Số hóa <hồ sơ> bệnh án (hạn 20/11/2026)"],
        },
    }
    return {**row, **changes}


def test_the_notice_names_its_number_date_unit_cause_request_and_deadline() -> None:
    notice = Notice.of(reminder(), UNITS, "Trung tâm IOC tỉnh Cà Mau")
    assert notice.number == "42/PNV-IOC"
    assert notice.issued_on == "Cà Mau, ngày 30 tháng 11 năm 2026"
    assert notice.unit == "Sở Y tế"
    assert notice.respond_by == "09 giờ 00 ngày 03/12/2026"  # local time
    assert notice.copies == ("Văn phòng Ủy ban nhân dân tỉnh (để báo cáo)",)


def test_the_html_escapes_what_the_feeds_wrote() -> None:
    page = render_html(Notice.of(reminder(), UNITS, "Trung tâm IOC"))
    assert "Số hóa &lt;hồ sơ&gt; bệnh án" in page
    assert "<hồ sơ>" not in page


def test_the_pdf_keeps_the_vietnamese_letters() -> None:
    notice = Notice.of(reminder(status="escalated"), UNITS, "Trung tâm IOC tỉnh Cà Mau")
    document = render_pdf(notice, DEFAULT_FONT)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(document)).pages)
    for expected in (
        "PHIẾU NHẮC VIỆC",
        "Số: 42/PNV-IOC",
        "Kính gửi: Sở Y tế",
        "T-1 — Số hóa <hồ sơ> bệnh án (hạn 20/11/2026)",
        "Đề nghị khẩn trương hoàn thành.",
        "Nhắc lại lần hai",
    ):
        assert expected in text


@pytest.mark.asyncio
async def test_the_pdf_is_rendered_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the API's notice.pdf and for an e-mail's attachment: tens of milliseconds of CPU
    that the wall's polls do not wait for."""
    rendered_in: list[int] = []

    def recording(notice: Notice, font: Path) -> bytes:
        rendered_in.append(threading.get_ident())
        raise OSError("rendered: no need to send")

    monkeypatch.setattr(notices, "render_pdf", recording)
    monkeypatch.setattr(email_channel, "render_pdf", recording)
    notice = Notice.of(reminder(), UNITS, "Trung tâm IOC tỉnh Cà Mau")
    with pytest.raises(OSError, match="rendered"):
        await render_pdf_aside(notice, DEFAULT_FONT)
    outgoing = Outgoing(
        id=uuid.uuid4(),
        reminder={},
        occasion="issued",
        target="vanphong.syt@camau.gov.vn",
        unit="syt",
        at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        notice=notice,
    )
    settings = ReminderSettings.from_env({"IOC_SMTP_HOST": "127.0.0.1"})
    with pytest.raises(DeliveryError, match="rendered"):
        await email_channel.Email().send(outgoing, settings)
    assert len(rendered_in) == 2
    assert threading.get_ident() not in rendered_in  # the event loop's thread: this one
