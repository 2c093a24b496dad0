"""The channels' settings and checks: each unit's webhook signed with its own secret, over the
moment and the body; a unit that could not be reached as configured refused at start."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.api.reminders.channels.webhook import signature
from services.api.reminders.delivery import retry_at
from services.api.reminders.evaluator import Reminding
from services.api.reminders.settings import ReminderSettings
from services.common.feeds import load_feeds
from services.common.settings import SettingsError
from tests.conftest import SCHEMAS_DIR

AT = datetime(2026, 11, 27, 11, 0, 5, tzinfo=UTC)


def test_a_webhook_signature_covers_its_moment_and_its_body() -> None:
    body = b'{"delivery":"d-1"}'
    t = int(AT.timestamp())
    mac = hmac.new(b"unit-secret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature("unit-secret", body, AT) == f"t={t},v1={mac}"
    assert signature("unit-secret", body, AT.replace(minute=6)) != f"t={t},v1={mac}"


def _with_hook(tmp_path: Path, unit: str, url: str) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, schemas)
    path = schemas / "units" / f"{unit}.yaml"
    text = path.read_text(encoding="utf-8").replace("contacts:\n", f"contacts:\n  webhook: {url}\n")
    path.write_text(text, encoding="utf-8")
    return schemas


def _secrets(tmp_path: Path, **by_unit: str) -> dict[str, str]:
    folder = tmp_path / "webhook-secrets"
    folder.mkdir()
    (folder / "..data").mkdir()  # as a mounted Kubernetes Secret has: not a unit's
    for unit, secret in by_unit.items():
        (folder / unit).write_text(secret + "\n", encoding="utf-8")
    return {"IOC_WEBHOOK_SECRETS_DIR": str(folder)}


def test_each_unit_s_webhook_secret_is_read_from_its_own_file(tmp_path: Path) -> None:
    schemas = _with_hook(tmp_path, "syt", "https://hooks.syt.example/ioc")
    settings = ReminderSettings.from_env(_secrets(tmp_path, syt="s-syt", tthcc="s-tthcc"))
    assert settings.webhook_secrets == {"syt": "s-syt", "tthcc": "s-tthcc"}
    assert "s-syt" not in repr(settings)
    Reminding.load(schemas, load_feeds(schemas), settings)


def test_a_unit_with_a_webhook_and_no_secret_is_refused_at_start(tmp_path: Path) -> None:
    schemas = _with_hook(tmp_path, "syt", "https://hooks.syt.example/ioc")
    settings = ReminderSettings.from_env(_secrets(tmp_path, tthcc="s-tthcc"))
    with pytest.raises(SettingsError, match="unit syt has a webhook but no secret"):
        Reminding.load(schemas, load_feeds(schemas), settings)


def test_an_empty_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="syt is empty"):
        ReminderSettings.from_env(_secrets(tmp_path, syt=" "))


def test_the_one_shared_secret_of_before_is_refused_saying_what_replaced_it() -> None:
    with pytest.raises(SettingsError, match="IOC_WEBHOOK_SECRETS_DIR"):
        ReminderSettings.from_env({"IOC_WEBHOOK_SECRET": "shared"})


def test_the_smtp_ca_file_must_exist_and_goes_with_starttls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    with pytest.raises(SettingsError, match="IOC_SMTP_CA_FILE: no such file"):
        ReminderSettings.from_env({"IOC_SMTP_STARTTLS": "1", "IOC_SMTP_CA_FILE": str(ca)})
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="needs IOC_SMTP_STARTTLS=1"):
        ReminderSettings.from_env({"IOC_SMTP_CA_FILE": str(ca)})
    settings = ReminderSettings.from_env({"IOC_SMTP_STARTTLS": "1", "IOC_SMTP_CA_FILE": str(ca)})
    assert settings.smtp_ca_file == ca


def test_two_units_with_one_webhook_url_are_refused(tmp_path: Path) -> None:
    # A delivery is signed with the secret of the unit its URL reaches: one URL, one unit.
    schemas = _with_hook(tmp_path, "syt", "https://hooks.example/ioc")
    path = schemas / "units" / "sxd.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("contacts:\n", "contacts:\n  webhook: https://hooks.example/ioc\n")
    )
    settings = ReminderSettings.from_env(_secrets(tmp_path, syt="s-syt", sxd="s-sxd"))
    with pytest.raises(SettingsError, match="units sxd and syt have the same webhook URL"):
        Reminding.load(schemas, load_feeds(schemas), settings)


@pytest.mark.parametrize("url", ["https://hooks..example/ioc", "https://hooks.example:99999/"])
def test_a_webhook_no_request_could_be_sent_to_is_refused_at_start(
    tmp_path: Path, url: str
) -> None:
    # Refused when loaded, not found out by the delivery loop (https://a..b/ raised a UnicodeError
    # there, outside the channel's own errors).
    schemas = _with_hook(tmp_path, "syt", url)
    settings = ReminderSettings.from_env(_secrets(tmp_path, syt="s-syt"))
    with pytest.raises(SettingsError, match="unit syt's webhook is not a URL a request can be"):
        Reminding.load(schemas, load_feeds(schemas), settings)


def test_retries_double_then_give_up() -> None:
    delays = [retry_at(n, AT, 30, 4) for n in range(1, 5)]
    assert [(d - AT).total_seconds() if d else None for d in delays] == [30, 60, 120, None]
