"""The reminder as a document: a *phiếu nhắc việc* as a Vietnamese office writes one (issuing
body, number and date, the unit addressed, the cause with its figures, what is asked and by
when, who else receives it), as HTML and as PDF. One ``Notice`` feeds both."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from services.api.reminders.status import ReminderStatus
from services.common.province import ZONE
from services.common.units import Units

PROVINCE = "Cà Mau"
AGAIN = "(Nhắc lại lần hai: chưa được phản hồi)"
STYLE = (
    'body{font-family:"Times New Roman",serif;max-width:46em;margin:2em auto;line-height:1.45}'
    " header{display:flex;justify-content:space-between;text-align:center}"
    " h1{text-align:center;margin:1.5em 0 0} .subject{text-align:center;font-style:italic}"
    " .escalated{text-align:center;color:#a00}"
)


@dataclass(frozen=True, slots=True)
class Notice:
    number: str
    issued_on: str  # "Cà Mau, ngày 30 tháng 11 năm 2026"
    issuing_body: str
    unit: str  # the addressee's name
    title: str
    lines: tuple[str, ...]  # the cause and its figures
    asked: str
    respond_by: str
    copies: tuple[str, ...]  # "Nơi nhận" besides the unit
    escalated: bool

    @classmethod
    def of(
        cls, reminder: Mapping[str, Any], units: Units, issuing_body: str, follow_up: int = 0
    ) -> Notice:
        """The reminder's notice as issued, or (``follow_up``) that follow-up's: numbered after
        the reminder's, naming it, listing only what joined its cause."""
        figures = reminder["figures"]
        issued = reminder["issued_at"].astimezone(ZONE)
        unit = units.by_code.get(reminder["unit"])
        above = units.by_code.get(unit.escalate_to) if unit and unit.escalate_to else None
        notice = cls(
            number=f"{reminder['id']}/PNV-IOC",
            issued_on=_issued_on(issued),
            issuing_body=issuing_body,
            unit=unit.name if unit else reminder["unit"],
            title=figures.get("title", {}).get("vi", reminder["rule"]),
            lines=tuple(figures.get("vi", ())),
            asked=figures.get("asked", {}).get("vi", ""),
            respond_by=_moment(reminder["respond_by"]),
            copies=(f"{above.name} (để báo cáo)",) if above else (),
            escalated=reminder["status"] == ReminderStatus.ESCALATED,
        )
        if not follow_up:
            return notice
        [added] = [f for f in reminder["follow_ups"] if f["follow_up"] == follow_up]
        at = _instant(added["at"]).astimezone(ZONE)
        return replace(
            notice,
            number=f"{reminder['id']}-{follow_up}/PNV-IOC",
            issued_on=_issued_on(at),
            title=f"{notice.title} (bổ sung)",
            lines=(
                f"Bổ sung Phiếu nhắc việc số {notice.number} ngày {issued:%d/%m/%Y}:",
                *added["figures"].get("vi", ()),
            ),
            respond_by=_moment(_instant(added["respond_by"])),
            escalated=False,
        )


def _issued_on(at: datetime) -> str:
    return f"{PROVINCE}, ngày {at:%d} tháng {at:%m} năm {at:%Y}"


def _instant(value: datetime | str) -> datetime:
    """A moment read from the store's JSON (an ISO string) or as a column (a datetime)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _moment(at: datetime) -> str:
    local = at.astimezone(ZONE)
    return f"{local:%H} giờ {local:%M} ngày {local:%d/%m/%Y}"


def render_html(notice: Notice) -> str:
    e = html.escape
    figures = "".join(f"<li>{e(line)}</li>" for line in notice.lines)
    copies = "".join(f"<li>{e(copy)}</li>" for copy in ("Như trên;", *notice.copies, "Lưu: VT."))
    escalated = (
        "<p class=escalated>(Nhắc lại lần hai: chưa được phản hồi)</p>" if notice.escalated else ""
    )
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Phiếu nhắc việc số {e(notice.number)}</title>
<style>{STYLE}</style></head>
<body><header><div><strong>{e(notice.issuing_body.upper())}</strong><br>Số: {e(notice.number)}</div>
<div><strong>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</strong><br><u>Độc lập - Tự do - Hạnh phúc</u><br>
<em>{e(notice.issued_on)}</em></div></header>
<h1>PHIẾU NHẮC VIỆC</h1><p class=subject>V/v: {e(notice.title)}</p>{escalated}
<p><strong>Kính gửi:</strong> {e(notice.unit)}</p>
<p>Qua theo dõi dữ liệu trên hệ thống IOC, {e(notice.issuing_body)} nhắc việc như sau:</p>
<p><strong>1. Nội dung:</strong></p><ul>{figures}</ul>
<p><strong>2.</strong> {e(notice.asked)}</p>
<p><strong>3. Thời hạn phản hồi:</strong> trước {e(notice.respond_by)}.</p>
<footer><p><strong>Nơi nhận:</strong></p><ul>{copies}</ul></footer></body></html>
"""


async def render_pdf_aside(notice: Notice, font: Path) -> bytes:
    """``render_pdf`` in a worker thread, for a caller on the event loop: tens of milliseconds
    of CPU that the wall's polls and the streams do not wait for. (The e-mail channel renders
    inside the thread that sends, which is aside already.)"""
    return await asyncio.to_thread(render_pdf, notice, font)


def render_pdf(notice: Notice, font: Path) -> bytes:
    """The same notice as a PDF, in a TrueType font that has Vietnamese letters (DejaVu Sans by
    default; its bold face beside it where there is one)."""
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 15, 15)
    pdf.add_font("Body", fname=str(font))
    bold_file = font.with_name(font.stem + "-Bold" + font.suffix)
    pdf.add_font("Body", style="B", fname=str(bold_file if bold_file.exists() else font))
    pdf.set_title(f"Phiếu nhắc việc số {notice.number}")
    pdf.add_page()
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    top = pdf.get_y()
    pdf.set_font("Body", "B", 10)
    pdf.multi_cell(half, 5, notice.issuing_body.upper(), align="C")
    pdf.set_font("Body", "", 10)
    pdf.multi_cell(half, 5, f"Số: {notice.number}", align="C")
    pdf.set_xy(pdf.l_margin + half, top)
    pdf.set_font("Body", "B", 10)
    pdf.multi_cell(half, 5, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C")
    pdf.set_x(pdf.l_margin + half)
    pdf.multi_cell(half, 5, "Độc lập - Tự do - Hạnh phúc", align="C")
    pdf.set_x(pdf.l_margin + half)
    pdf.set_font("Body", "", 10)
    pdf.multi_cell(half, 5, notice.issued_on, align="C")
    pdf.ln(10)
    pdf.set_font("Body", "B", 14)
    pdf.cell(0, 8, "PHIẾU NHẮC VIỆC", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Body", "", 11)
    pdf.multi_cell(0, 6, f"V/v: {notice.title}", align="C", new_x="LMARGIN", new_y="NEXT")
    if notice.escalated:
        pdf.multi_cell(0, 6, AGAIN, align="C")
    pdf.ln(4)
    body = [
        f"Kính gửi: {notice.unit}",
        f"Qua theo dõi dữ liệu trên hệ thống IOC, {notice.issuing_body} nhắc việc như sau:",
        "1. Nội dung:",
        *(f"   - {line}" for line in notice.lines),
        f"2. {notice.asked}",
        f"3. Thời hạn phản hồi: trước {notice.respond_by}.",
        "",
        "Nơi nhận:",
        *(f"- {copy}" for copy in ("Như trên;", *notice.copies, "Lưu: VT.")),
    ]
    for line in body:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
