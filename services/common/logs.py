"""Structured logs: one JSON object a line on stderr, with the context an operator searches by
(feed, topic, partition, offset, batch) as fields. Keys, passwords and what a URL holds besides
its address (credentials, a query: a webhook's token) never reach a log line.

A person at a terminal reads text instead: when stderr is a terminal, each line is its local
time with its zone, level, logger, message and the same context fields as ``name=value``.
``IOC_LOG_FORMAT=json|text`` chooses either way whatever stderr is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from services.common.settings import SettingsError

# The fields a log call may add with ``extra=``; anything else stays out of the line.
CONTEXT_FIELDS = ("feed", "topic", "partition", "offset", "batch", "records", "rows", "reason")

_SECRETS = (
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[redacted]"),  # an API key in a header
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),  # a password in a URL
    (re.compile(r"(?i)(https?://)[^:/?#@\s]+@"), r"\1[redacted]@"),  # a token as a web URL's user
    (re.compile(r"(://[^?#\s\"']*)\?[^\s\"']+"), r"\1?[redacted]"),  # a URL's query
    (re.compile(r"(?i)(password\s*[=:]\s*)[^\s\"',;]+"), r"\1[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A line a person reads: ``2026-12-05 07:40:01.123 +07:00 WARNING ioc.ingest: message
    feed=salinity partition=2``, the machine's local time with its offset."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).astimezone()
        fields = "".join(
            f" {name}={value}"
            for name in CONTEXT_FIELDS
            if (value := record.__dict__.get(name)) is not None
        )
        when = f"{at:%Y-%m-%d %H:%M:%S}.{int(record.msecs):03d} {at.isoformat()[-6:]}"
        line = f"{when} {record.levelname} {record.name}: {record.getMessage()}{fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


LOG_FORMATS = ("json", "text")


def log_format(env: Mapping[str, str], stream: TextIO) -> str:
    """``IOC_LOG_FORMAT`` where set, else text for a terminal and JSON for anything else (a
    file, a pipe, journald)."""
    chosen = env.get("IOC_LOG_FORMAT", "").strip().lower()
    if chosen and chosen not in LOG_FORMATS:
        raise SettingsError(f"IOC_LOG_FORMAT must be json or text, got {chosen!r}")
    if chosen:
        return chosen
    return "text" if stream.isatty() else "json"


def configure_logging(env: Mapping[str, str] = os.environ, stream: TextIO | None = None) -> None:
    """The root logger for every ``ioc`` command; uvicorn's loggers propagate to it."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if log_format(env, stream) == "text":
        handler.setFormatter(TextFormatter())
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(env.get("IOC_LOG_LEVEL", "INFO").upper())
