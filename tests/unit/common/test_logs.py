"""Log lines: JSON with the operator's context fields, and never a key or a password."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import UTC, datetime

import pytest

from services.common.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    log_format,
    redact,
)
from services.common.settings import SettingsError


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("ioc.ingest", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_the_context_fields() -> None:
    record = _record(
        "record quarantined: %s", "not JSON", feed="salinity", partition=2, offset=41, batch=7
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "record quarantined: not JSON"
    assert line["level"] == "warning"
    assert line["logger"] == "ioc.ingest"
    assert (line["feed"], line["partition"], line["offset"], line["batch"]) == (
        "salinity",
        2,
        41,
        7,
    )
    assert line["ts"].endswith("+00:00")


def test_fields_outside_the_context_list_stay_out() -> None:
    line = json.loads(JsonFormatter().format(_record("x", secret_thing="k")))
    assert "secret_thing" not in line


def test_keys_and_passwords_never_reach_a_line() -> None:
    key = "ioc_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    message = f"refused Authorization: Bearer {key} for postgresql://ioc:s3cret@db:5432/ioc"
    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(_record(message))
        assert key not in text
        assert "s3cret" not in text
        assert "postgresql://ioc:[redacted]@db:5432/ioc" in text
    assert redact("password=hunter2 port=5432") == "password=[redacted] port=5432"


def test_an_exception_is_kept_redacted() -> None:
    try:
        raise ConnectionError("could not reach postgresql://ioc:s3cret@db/ioc")
    except ConnectionError:
        record = _record("database unavailable")
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert "ConnectionError" in line["error"]
    assert "s3cret" not in line["error"]


def test_a_urls_credentials_and_query_never_reach_a_line() -> None:
    # A webhook's URL may carry its token in the query or as its user; the host and path stay.
    message = (
        "webhook delivery to https://hooks.example.vn/ioc?token=t0ps3cret&unit=tthcc failed; "
        "also https://bot:b0tpass@chat.example.vn/x and https://a1b2c3token@hooks.example.vn/y"
    )
    expected = (
        "webhook delivery to https://hooks.example.vn/ioc?[redacted] failed; "
        "also https://bot:[redacted]@chat.example.vn/x and https://[redacted]@hooks.example.vn/y"
    )
    assert redact(message) == expected
    for formatter in (JsonFormatter(), TextFormatter()):
        text = formatter.format(_record(message))
        for secret in ("t0ps3cret", "b0tpass", "a1b2c3token"):
            assert secret not in text
    assert redact("GET /v1/reminders?unit=sxd") == "GET /v1/reminders?unit=sxd"  # not a URL


class _Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(
    ("terminal", "env", "expected"),
    [
        (True, {}, "text"),
        (False, {}, "json"),
        (True, {"IOC_LOG_FORMAT": "json"}, "json"),
        (False, {"IOC_LOG_FORMAT": "text"}, "text"),
        (False, {"IOC_LOG_FORMAT": " TEXT "}, "text"),
    ],
)
def test_text_at_a_terminal_json_elsewhere_and_the_setting_overrides_both(
    terminal: bool, env: dict[str, str], expected: str
) -> None:
    assert log_format(env, _Stream(terminal)) == expected


def test_an_unknown_format_is_a_settings_error_naming_it() -> None:
    with pytest.raises(SettingsError, match="IOC_LOG_FORMAT must be json or text, got 'yaml'"):
        log_format({"IOC_LOG_FORMAT": "yaml"}, _Stream(True))


def test_a_text_line_has_its_time_with_zone_level_logger_message_and_fields() -> None:
    record = _record("record quarantined: %s", "not JSON", feed="salinity", partition=2)
    record.created = datetime(2026, 12, 5, 0, 40, 1, 123000, tzinfo=UTC).timestamp()
    record.msecs = 123.0
    line = TextFormatter().format(record)
    when, level, rest = line[:30], line[30:].split(" ", 2)[1], line[30:].split(" ", 2)[2]
    at = datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f %z")
    assert at == datetime(2026, 12, 5, 0, 40, 1, 123000, tzinfo=UTC)  # in the machine's zone
    assert level == "WARNING"
    assert rest == "ioc.ingest: record quarantined: not JSON feed=salinity partition=2"


def test_configure_logging_writes_text_to_a_terminal() -> None:
    stream = _Stream(terminal=True)
    configure_logging({}, stream)
    try:
        logging.getLogger("ioc.test").warning("hello %s", "operator", extra={"feed": "traffic"})
    finally:
        configure_logging({}, _Stream(terminal=False))
    line = stream.getvalue().rstrip("\n")
    assert line.endswith(" WARNING ioc.test: hello operator feed=traffic")
    assert not line.startswith("{")
