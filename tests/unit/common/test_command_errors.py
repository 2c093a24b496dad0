"""The store's failures said in one line, never with its password; anything else passes on."""

from __future__ import annotations

import asyncpg
import pytest

from services.common.command_errors import CommandError, using_store

URL = "postgresql://ioc:s3cret@db.internal:5432/ioc"


def test_a_refused_password_is_said_without_it() -> None:
    with pytest.raises(CommandError) as failed, using_store(URL):
        raise asyncpg.InvalidPasswordError('password authentication failed for user "ioc"')
    assert str(failed.value) == (
        "the store at db.internal:5432 refused the connection (password authentication failed for"
        ' user "ioc"): IOC_DATABASE_URL names its user, password and database'
    )


def _wrapped() -> None:
    """As SQLAlchemy (under Alembic, for ioc migrate) raises its own error from asyncpg's."""
    try:
        raise asyncpg.CannotConnectNowError("the database system is starting up")
    except asyncpg.PostgresError as error:
        raise RuntimeError("(sqlalchemy) wrapped") from error


def test_the_stores_error_is_found_under_a_wrapper() -> None:
    reach = r"^cannot reach the store at db\.internal:5432 "
    with pytest.raises(CommandError, match=reach), using_store(URL):
        _wrapped()


def test_a_busy_store_is_said_so() -> None:
    busy = r"^the store at db\.internal:5432 is busy \(deadlock detected\): try again$"
    with pytest.raises(CommandError, match=busy), using_store(URL):
        raise asyncpg.DeadlockDetectedError("deadlock detected")


def test_a_store_without_the_schema_asks_for_ioc_migrate() -> None:
    unmigrated = (
        r'^the store at db\.internal:5432 is not migrated \(relation "latest" does not exist\):'
        r" run ioc migrate \(make up does\)$"
    )
    with pytest.raises(CommandError, match=unmigrated), using_store(URL):
        raise asyncpg.UndefinedTableError('relation "latest" does not exist')


@pytest.mark.parametrize(
    "error",
    [FileNotFoundError(2, "No such file or directory", "/out/x.csv"), ValueError("a bug")],
)
def test_a_files_error_or_a_bug_passes_on_as_it_is(error: Exception) -> None:
    with pytest.raises(type(error)) as passed, using_store(URL):
        raise error
    assert passed.value is error
