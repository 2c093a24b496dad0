"""E-mail over SMTP: the notice as the message's HTML (and its text), the PDF attached. The
Message-ID carries the delivery's id, so a retried message is recognisably the same."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from services.api.reminders.channels import DeliveryError, Outgoing
from services.api.reminders.notice import render_html, render_pdf
from services.api.reminders.settings import ReminderSettings
from services.common.units import Unit, Units

TIMEOUT_S = 20


class Email:
    name = "email"

    def targets(self, unit: Unit) -> list[str]:
        return list(unit.emails)

    def check(self, units: Units, settings: ReminderSettings) -> None:
        """Nothing to refuse at start: without a relay each e-mail fails as "no SMTP server",
        visible in the register, and an address needs no secret."""

    async def send(self, outgoing: Outgoing, settings: ReminderSettings) -> None:
        if settings.smtp_host is None:
            raise DeliveryError("no SMTP server: set IOC_SMTP_HOST")
        try:
            # The PDF is rendered in the thread too: tens of milliseconds the event loop (the
            # wall's polls) does not wait for.
            await asyncio.to_thread(_submit, outgoing, settings)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}"
            ) from error


def _message(outgoing: Outgoing, settings: ReminderSettings) -> EmailMessage:
    notice = outgoing.notice
    message = EmailMessage()
    again = {"escalated": "[Nhắc lại] ", "follow_up": "[Bổ sung] "}.get(outgoing.occasion, "")
    message["Subject"] = f"{again}Phiếu nhắc việc số {notice.number}: {notice.title}"
    message["From"] = settings.mail_from
    message["To"] = outgoing.target
    message["Message-ID"] = f"<{outgoing.id}@ioc-stream>"
    message.set_content(
        "\n".join(
            [
                f"Kính gửi: {notice.unit}",
                "",
                notice.title,
                *notice.lines,
                "",
                notice.asked,
                f"Thời hạn phản hồi: trước {notice.respond_by}.",
                "",
                f"Phiếu nhắc việc số {notice.number} đính kèm (PDF).",
            ]
        )
    )
    message.add_alternative(render_html(notice), subtype="html")
    filename = f"phieu-nhac-viec-{notice.number.replace('/', '-')}.pdf"
    document = render_pdf(notice, settings.pdf_font)
    message.add_attachment(document, maintype="application", subtype="pdf", filename=filename)
    return message


def _submit(outgoing: Outgoing, settings: ReminderSettings) -> None:
    assert settings.smtp_host is not None
    message = _message(outgoing, settings)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            # Without a context Python does not check the relay's certificate, and login()
            # would hand the password to whoever sits in between.
            cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)
