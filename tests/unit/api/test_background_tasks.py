"""A background loop of the API that dies says so loudly, by name; a cancelled one is quiet."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.api.app import _report_death


async def _broken() -> None:
    raise ZeroDivisionError("a bug")


@pytest.mark.asyncio
async def test_a_dead_background_loop_is_logged_critically_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    died = asyncio.create_task(_broken(), name="reminders")
    await asyncio.gather(died, return_exceptions=True)
    cancelled = asyncio.create_task(asyncio.sleep(60), name="indicators")
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    with caplog.at_level(logging.CRITICAL, logger="ioc.api"):
        _report_death(died)
        _report_death(cancelled)
    [record] = caplog.records
    assert record.getMessage() == "background task 'reminders' died; restart the API"
    assert record.exc_info is not None
