"""The reminders' settings: how often they are evaluated and delivered, the SMTP server, the
webhooks' signing secrets (one per unit), the retries, and who issues the notices."""

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
    smtp_ca_file: Path | None  # the relay's certificate checked against it; None: the system's
    smtp_username: str | None
    smtp_password: str | None = field(repr=False)
    mail_from: str
    # By unit code: each signs its own unit's webhooks, so no unit's receiver can sign for another.
    webhook_secrets: Mapping[str, str] = field(repr=False)
    issuing_body: str  # the notices' issuing body (cơ quan ban hành)
    pdf_font: Path  # a TrueType font with Vietnamese glyphs
    # Where a local mail sink keeps what it is sent (`make up`'s): the console lists it.
    mail_sink_dir: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ReminderSettings:
        username = env.get("IOC_SMTP_USERNAME")
        password = env_secret(env, "IOC_SMTP_PASSWORD")
        if (username is None) != (password is None):
            raise SettingsError("IOC_SMTP_USERNAME and IOC_SMTP_PASSWORD go together")
        starttls = env.get("IOC_SMTP_STARTTLS", "0") == "1"
        ca_file = env.get("IOC_SMTP_CA_FILE")
        if ca_file is not None and not starttls:
            raise SettingsError("IOC_SMTP_CA_FILE needs IOC_SMTP_STARTTLS=1")
        if ca_file is not None and not Path(ca_file).is_file():
            raise SettingsError(f"IOC_SMTP_CA_FILE: no such file {ca_file}")
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
            smtp_starttls=starttls,
            smtp_ca_file=Path(ca_file) if ca_file is not None else None,
            smtp_username=username,
            smtp_password=password,
            mail_from=env.get("IOC_MAIL_FROM", "ioc@camau.gov.vn"),
            webhook_secrets=_webhook_secrets(env),
            issuing_body=env.get(
                "IOC_ISSUING_BODY", "Trung tâm Giám sát, điều hành đô thị thông minh tỉnh Cà Mau"
            ),
            pdf_font=font,
            mail_sink_dir=Path(env["IOC_MAIL_SINK_DIR"]) if env.get("IOC_MAIL_SINK_DIR") else None,
        )


def _webhook_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``IOC_WEBHOOK_SECRETS_DIR``: one file per unit with a webhook, named by the unit's code and
    holding its secret (a Kubernetes Secret mounted as a volume is just that). Whether every
    such unit has one is checked with the units (channels.check)."""
    if "IOC_WEBHOOK_SECRET" in env or "IOC_WEBHOOK_SECRET_FILE" in env:
        raise SettingsError(
            "IOC_WEBHOOK_SECRET[_FILE] is gone: each unit's webhook has its own secret, a file "
            "named by the unit's code in IOC_WEBHOOK_SECRETS_DIR (docs/deploy.md)"
        )
    raw = env.get("IOC_WEBHOOK_SECRETS_DIR")
    if raw is None:
        return {}
    folder = Path(raw)
    if not folder.is_dir():
        raise SettingsError(f"IOC_WEBHOOK_SECRETS_DIR: no such directory {raw}")
    secrets: dict[str, str] = {}
    # A mounted Secret's own entries (..data and its timestamped folder) start with a dot.
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()):
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SettingsError(
                f"IOC_WEBHOOK_SECRETS_DIR: cannot read {path}: {error.strerror}"
            ) from None
        if not secret:
            raise SettingsError(f"IOC_WEBHOOK_SECRETS_DIR: {path} is empty")
        secrets[path.name] = secret
    return secrets
