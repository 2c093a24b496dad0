"""Running the Alembic migrations from code (``ioc migrate`` and the test fixtures)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from services.common.settings import REPO_ROOT


def upgrade(database_url: str, *, storage_mode: str | None = None, revision: str = "head") -> None:
    """Migrates to ``revision``. A new store is made in ``storage_mode`` (by default TimescaleDB
    where installed); an existing one keeps its own, and naming the other is refused."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["storage_mode"] = storage_mode
    command.upgrade(config, revision)
