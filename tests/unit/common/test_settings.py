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


def test_kafka_defaults_to_plaintext_on_the_local_stack() -> None:
    kafka = CommonSettings.from_env({}).kafka
    assert kafka.client_options() == {
        "bootstrap_servers": "127.0.0.1:19092",
        "security_protocol": "PLAINTEXT",
    }


def test_kafka_over_sasl_reads_its_password_from_a_file_and_never_shows_it(tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    env = {
        "IOC_KAFKA_BOOTSTRAP": "kafka.example:9093",
        "IOC_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "IOC_KAFKA_USERNAME": "ioc-worker",
        "IOC_KAFKA_PASSWORD_FILE": str(secret),
    }
    kafka = CommonSettings.from_env(env).kafka
    options = kafka.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "ioc-worker",
        "s3cret",
    )
    assert options["ssl_context"].check_hostname
    assert "s3cret" not in repr(kafka)
    assert kafka.described == "kafka.example:9093 over SASL_SSL as ioc-worker (SCRAM-SHA-512)"


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"IOC_KAFKA_SECURITY_PROTOCOL": "TLS"}, "must be one of PLAINTEXT, SSL, SASL_SSL"),
        ({"IOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs IOC_KAFKA_USERNAME"),
        (
            {"IOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "IOC_KAFKA_USERNAME": "ioc"},
            "IOC_KAFKA_PASSWORD",
        ),
        (
            {
                "IOC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "IOC_KAFKA_SASL_MECHANISM": "GSSAPI",
                "IOC_KAFKA_USERNAME": "ioc",
                "IOC_KAFKA_PASSWORD": "x",
            },
            "IOC_KAFKA_SASL_MECHANISM must be one of",
        ),
        (
            {"IOC_KAFKA_SECURITY_PROTOCOL": "SSL", "IOC_KAFKA_CA_FILE": "/nowhere/ca.crt"},
            "no such file",
        ),
    ],
)
def test_a_kafka_setting_that_cannot_work_is_refused_by_name(
    env: dict[str, str], refusal: str
) -> None:
    with pytest.raises(SettingsError, match=refusal):
        CommonSettings.from_env(env)


def test_a_client_certificate_needs_its_key_and_tls(tmp_path: Path) -> None:
    cert = tmp_path / "client.crt"
    cert.write_text("-", encoding="utf-8")
    with pytest.raises(SettingsError, match="go together"):
        CommonSettings.from_env(
            {"IOC_KAFKA_SECURITY_PROTOCOL": "SSL", "IOC_KAFKA_CERT_FILE": str(cert)}
        )
    with pytest.raises(SettingsError, match="need IOC_KAFKA_SECURITY_PROTOCOL=SSL"):
        CommonSettings.from_env({"IOC_KAFKA_CA_FILE": str(cert)})
