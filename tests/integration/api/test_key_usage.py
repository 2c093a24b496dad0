"""The API notes when each key was last used without a write per request: nothing is written
while it serves (the default writes once a minute), the last uses are written when it stops, and
`ioc keys list` shows them. A refused key is logged by its prefix only."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from services.common.settings import CommonSettings
from tests.integration.api.conftest import api_settings, serving
from tests.integration.conftest import new_key
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_last_use_is_written_once_not_per_request_and_keys_list_shows_it(
    settings: CommonSettings, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    wall = await new_key(settings.database_url, "reader", "wall")
    await new_key(settings.database_url, "reader", "grafana")  # never used
    bogus = "ioc_N0tAKey1" + "z" * 35
    with caplog.at_level(logging.WARNING, logger="ioc.api.keys"):
        # Written every hour here: what the test sees while serving is not a race with the minute.
        async with serving(replace(api_settings(settings), key_usage_every_s=3600)) as client:
            for path in ["/v1/feeds", "/v1/indicators", "/v1/indicators", "/v1/feeds"] * 5:
                answer = await client.get(path, headers={"Authorization": f"Bearer {wall}"})
                assert answer.status_code == 200, answer.text
            for _ in range(3):
                refused = await client.get(
                    "/v1/feeds", headers={"Authorization": f"Bearer {bogus}"}
                )
                assert refused.status_code == 401
            during = await db.fetch(
                "SELECT last_used_at FROM api_keys WHERE last_used_at IS NOT NULL"
            )
            assert during == []  # twenty requests, no write yet
    used = await db.fetch("SELECT subject FROM api_keys WHERE last_used_at IS NOT NULL")
    assert [row["subject"] for row in used] == ["wall"]
    assert [r.getMessage() for r in caplog.records if r.name == "ioc.api.keys"] == [
        "refused API key ioc_N0tAKey1…: unknown or revoked"
    ]
    assert bogus not in caplog.text

    listed = run_ioc(service_env(settings), "keys", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {row.split()[2]: row for row in listed.stdout.splitlines()[1:-1]}
    # created, then last used: both moments with the province's offset; grafana's never.
    assert rows["wall"].count("+07:00") == 2, rows["wall"]
    assert rows["grafana"].count("+07:00") == 1, rows["grafana"]
