"""How an ``ioc`` command fails when the failure is expected (a store that is down, a bad
argument): one line saying what and what to do, and a non-zero exit. ``services.cli.main`` prints
it after the command's name; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from services.common.db import DATABASE_UNAVAILABLE, create_pool
from services.common.logs import redact

T = TypeVar("T")


class CommandError(Exception):
    """An expected failure of a command: its message (without the command's name) and the exit
    code. Like click's ClickException."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# The store answers, but not to these credentials or for this database.
_REFUSED = (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError)
# The store answers but lacks the project's tables: never migrated, or older than this code.
_UNMIGRATED = (asyncpg.UndefinedTableError,)
# The store is there and cannot do it now.
_BUSY = (
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


@contextmanager
def using_store(database_url: str) -> Iterator[None]:
    """A store that cannot be reached, refuses the connection or is too busy, said as a
    CommandError naming where it is (never its password). A file's error passes on as it is."""
    try:
        yield
    except Exception as error:
        cause = _store_error(error)
        if cause is None:
            raise
        where = urlsplit(database_url).netloc.rpartition("@")[2] or redact(database_url)
        if isinstance(cause, _REFUSED):
            message = (
                f"the store at {where} refused the connection ({cause}): IOC_DATABASE_URL names"
                " its user, password and database"
            )
        elif isinstance(cause, _UNMIGRATED):
            message = (
                f"the store at {where} is not migrated ({cause}): run ioc migrate (make up does)"
            )
        elif isinstance(cause, _BUSY):
            message = f"the store at {where} is busy ({cause}): try again"
        else:
            message = (
                f"cannot reach the store at {where} ({_why(cause)}): is it running? make up"
                " starts it; IOC_DATABASE_URL says where it is"
            )
        raise CommandError(redact(message)) from error


def _store_error(error: BaseException | None) -> BaseException | None:
    """The store's own error in ``error`` or its causes (SQLAlchemy, under Alembic, wraps it)."""
    while error is not None:
        if isinstance(error, OSError) and error.filename is not None:
            return None  # a file, not the store's socket
        if isinstance(error, (*DATABASE_UNAVAILABLE, *_REFUSED, *_UNMIGRATED)):
            return error
        error = error.__cause__
    return None


def _why(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno is not None and error.errno > 0:
        return os.strerror(error.errno).lower()  # "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # an unknown host: "Name or service not known"
    return str(error) or ("timed out" if isinstance(error, TimeoutError) else type(error).__name__)


def with_connection(database_url: str, use: Callable[[Any], Awaitable[T]]) -> T:
    """Runs ``use`` on one connection to the store, for a command that reads or writes a little;
    a store that is down is the CommandError of ``using_store``."""

    async def run() -> T:
        pool = await create_pool(database_url, max_size=1)
        try:
            async with pool.acquire() as connection:
                return await use(connection)
        finally:
            await pool.close()

    with using_store(database_url):
        return asyncio.run(run())
