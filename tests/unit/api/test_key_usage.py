"""Key uses are noted in memory and taken in one batch (a write a minute, not one a request); a
refused key is logged by its prefix, once a minute per prefix, never whole."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from services.api.key_usage import KeyUsage

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
KEY = "ioc_AbCd1234" + "x" * 35


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_many_uses_of_a_key_are_one_entry_with_the_latest_time() -> None:
    clock = Clock()
    usage = KeyUsage(clock)
    for second in range(100):
        clock.now = T0 + timedelta(seconds=second)
        usage.used(7)
    usage.used(8)
    assert usage.take() == {7: T0 + timedelta(seconds=99), 8: T0 + timedelta(seconds=99)}
    assert usage.take() == {}


def test_uses_not_written_wait_for_the_next_write_unless_a_newer_came() -> None:
    clock = Clock()
    usage = KeyUsage(clock)
    usage.used(7)
    usage.used(8)
    taken = usage.take()
    clock.now = T0 + timedelta(seconds=30)
    usage.used(8)
    usage.give_back(taken)
    assert usage.take() == {7: T0, 8: T0 + timedelta(seconds=30)}


def test_a_refused_key_is_logged_by_its_prefix_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    usage = KeyUsage(clock)
    with caplog.at_level(logging.WARNING, logger="ioc.api.keys"):
        usage.refused(KEY, "unknown or revoked")
        clock.now = T0 + timedelta(seconds=59)
        usage.refused(KEY, "unknown or revoked")
        usage.refused("not\na key at all", "unknown or revoked")
        clock.now = T0 + timedelta(seconds=60)
        usage.refused(KEY, "unknown or revoked")
    assert [record.getMessage() for record in caplog.records] == [
        "refused API key ioc_AbCd1234…: unknown or revoked",
        "refused API key a malformed key: unknown or revoked",
        "refused API key ioc_AbCd1234…: unknown or revoked",
    ]
    assert KEY not in caplog.text
