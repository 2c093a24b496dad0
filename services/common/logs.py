"""Structured logs: one JSON object a line on stderr, with the context an operator searches by
(feed, topic, partition, offset, batch) as fields. Keys, passwords and what a URL holds besides
its address (credentials, a query: a webhook's token) never reach a log line.

``IOC_LOG_FORMAT=text`` gives plain lines for a person at a terminal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

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


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(env: Mapping[str, str] = os.environ) -> None:
    """The root logger for every ``ioc`` command; uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    if env.get("IOC_LOG_FORMAT", "json") == "text":
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(env.get("IOC_LOG_LEVEL", "INFO").upper())
