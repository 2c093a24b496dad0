"""The reminders' settings: how often they are evaluated and delivered, the SMTP server, the
webhooks' signing secret, the retries, and who issues the notices."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.settings import SettingsError, env_float, env_int, env_secret

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    enabled: bool  # evaluate and deliver in this process (the API's, or `ioc reminders run`)
    evaluate_every_s: float  # and just after each daily deadline
    deliver_every_s: float
    retry_base_s: float  # the first retry's delay; each next one doubles it
    max_attempts: int  # then the delivery is given up, loudly
    smtp_host: str | None  # None: e-mails fail as "not configured", visible in the register
    smtp_port: int
    smtp_starttls: bool
    smtp_username: str | None
    smtp_password: str | None = field(repr=False)
    mail_from: str
    webhook_secret: str | None = field(repr=False)  # signs each webhook body (HMAC-SHA256)
    issuing_body: str  # the notices' issuing body (cơ quan ban hành)
    pdf_font: Path  # a TrueType font with Vietnamese glyphs

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReminderSettings:
        username = env.get("IOC_SMTP_USERNAME")
        password = env_secret(env, "IOC_SMTP_PASSWORD")
        if (username is None) != (password is None):
            raise SettingsError("IOC_SMTP_USERNAME and IOC_SMTP_PASSWORD go together")
        font = Path(env.get("IOC_PDF_FONT", str(DEFAULT_FONT)))
        if not font.is_file():
            raise SettingsError(
                f"IOC_PDF_FONT: no font at {font} for the reminders' PDF notices "
                "(Debian: apt-get install fonts-dejavu-core)"
            )
        return cls(
            enabled=env.get("IOC_REMINDERS", "1") != "0",
            evaluate_every_s=env_float(env, "IOC_REMINDERS_EVERY_S", 300.0),
            deliver_every_s=env_float(env, "IOC_REMINDERS_DELIVER_EVERY_S", 5.0),
            retry_base_s=env_float(env, "IOC_REMINDERS_RETRY_BASE_S", 30.0),
            max_attempts=env_int(env, "IOC_REMINDERS_MAX_ATTEMPTS", 8),
            smtp_host=env.get("IOC_SMTP_HOST") or None,
            smtp_port=env_int(env, "IOC_SMTP_PORT", 25),
            smtp_starttls=env.get("IOC_SMTP_STARTTLS", "0") == "1",
            smtp_username=username,
            smtp_password=password,
            mail_from=env.get("IOC_MAIL_FROM", "ioc@camau.gov.vn"),
            webhook_secret=env_secret(env, "IOC_WEBHOOK_SECRET"),
            issuing_body=env.get(
                "IOC_ISSUING_BODY", "Trung tâm Giám sát, điều hành đô thị thông minh tỉnh Cà Mau"
            ),
            pdf_font=font,
        )
