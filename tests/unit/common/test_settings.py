"""Settings that may be secrets: from the environment, or from a file (``NAME_FILE``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import CommonSettings, SettingsError

URL = "postgresql://ioc:s3cret@db.internal:5432/ioc"


def test_the_database_url_is_read_from_a_file_when_named(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(URL + "\n", encoding="utf-8")
    settings = CommonSettings.from_env({"IOC_DATABASE_URL_FILE": str(secret)})
    assert settings.database_url == URL


def test_a_value_and_a_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(URL, encoding="utf-8")
    with pytest.raises(SettingsError, match="not both"):
        CommonSettings.from_env({"IOC_DATABASE_URL": URL, "IOC_DATABASE_URL_FILE": str(secret)})


def test_a_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="IOC_DATABASE_URL_FILE: cannot read"):
        CommonSettings.from_env({"IOC_DATABASE_URL_FILE": str(tmp_path / "nope")})


def test_a_malformed_url_is_refused_without_showing_it() -> None:
    with pytest.raises(SettingsError) as refused:
        CommonSettings.from_env({"IOC_DATABASE_URL": "mysql://ioc:s3cret@db/ioc"})
    assert "s3cret" not in str(refused.value)
