"""The reminders' loops wait out a database that is away, and die loudly on anything else: a
SQL error is a bug, not "database unavailable" logged for ever."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.api.reminders.delivery import keep_delivering
from services.api.reminders.evaluator import Reminding, keep_evaluating
from services.api.reminders.settings import ReminderSettings
from services.common.feeds import load_feeds
from tests.conftest import SCHEMAS_DIR

NOW = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
Loop = Callable[[Any, Reminding, Callable[[], datetime]], Coroutine[Any, Any, None]]


class Again(BaseException):
    """The loop went round again: what it must not do after a SQL error."""


class FailingPool:
    """A pool whose first connection fails with ``error``, and any next one with ``Again``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    @asynccontextmanager
    async def acquire(self) -> Any:
        error, self.error = self.error, Again()
        raise error
        yield


def reminding() -> Reminding:
    settings = ReminderSettings.from_env(
        {"IOC_REMINDERS_DELIVER_EVERY_S": "0", "IOC_REMINDERS_EVALUATE_EVERY_S": "0"}
    )
    return Reminding.load(SCHEMAS_DIR, load_feeds(SCHEMAS_DIR), settings)


@pytest.mark.asyncio
@pytest.mark.parametrize("loop", [keep_delivering, keep_evaluating])
async def test_a_sql_error_ends_the_loop_loudly(loop: Loop) -> None:
    pool = FailingPool(asyncpg.UndefinedTableError('relation "reminders" does not exist'))
    with pytest.raises(asyncpg.UndefinedTableError):
        await loop(pool, reminding(), lambda: NOW)
