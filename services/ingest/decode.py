"""Kafka record bytes to a JSON value, or a rejection saying why not."""

from __future__ import annotations

import json

from services.common.canonical import Rejection


def decode(value: bytes | None) -> object:
    if value is None:
        return Rejection("decode: empty record (no value)")
    try:
        return json.loads(value)
    except UnicodeDecodeError:
        return Rejection("decode: not UTF-8 text")
    except json.JSONDecodeError as error:
        return Rejection(
            f"decode: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        )
