"""`ioc grafana-role`: the role Grafana logs in as, made by the real command; it logs in with
the password given and reads what the dashboards read, and nothing else."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.common.settings import CommonSettings
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration

ROLE = "ioc_grafana_cli_test"


def as_role(database_url: str, password: str) -> str:
    parts = urlsplit(database_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{ROLE}:{password}@{host}"))


@pytest.mark.asyncio(loop_scope="session")
async def test_the_grafana_role_reads_the_dashboards_relations_and_not_the_keys(
    settings: CommonSettings, db: Any
) -> None:
    env = service_env(settings, IOC_GRAFANA_DB_PASSWORD="s3cret-for-grafana")
    first = run_ioc(env, "grafana-role", ROLE)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"role {ROLE} ")
    assert "SELECT on observations," in first.stdout
    again = run_ioc(env, "grafana-role", ROLE)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"role {ROLE} updated")

    grafana = await asyncpg.connect(as_role(settings.database_url, "s3cret-for-grafana"))
    try:
        assert await grafana.fetchval("SELECT count(*) FROM unit_scores") >= 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await grafana.fetch("SELECT key_hash FROM api_keys")
        # A delivery's status, not where it went (a webhook's token) nor why it failed.
        assert await grafana.fetchval("SELECT count(status) FROM reminder_deliveries") >= 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await grafana.fetch("SELECT target FROM reminder_deliveries")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await grafana.execute("DELETE FROM reminders")
    finally:
        await grafana.close()
