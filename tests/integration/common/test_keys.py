"""`ioc keys issue --agency`: every unit of schemas/units/ may hold a key, communes included
(they are who missed-deadline reminders go to), and a code no unit or feed has is refused."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import CommonSettings
from services.common.units import load_units
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration


@pytest.mark.asyncio(loop_scope="session")
async def test_every_unit_may_be_issued_a_key_and_an_unknown_code_is_refused(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    env = service_env(settings)
    codes = sorted(load_units(settings.schemas_dir, feeds).by_code)
    assert "32150" in codes  # a commune: it owns no feed
    for code in codes:
        done = run_ioc(env, "keys", "issue", "--agency", code)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("issued agency key #"), done.stdout
    subjects = [row["subject"] for row in await db.fetch("SELECT subject FROM api_keys")]
    assert sorted(subjects) == codes
    refused = run_ioc(env, "keys", "issue", "--agency", "99999")
    assert refused.returncode == 1
    assert refused.stderr.startswith("ioc keys issue: unknown agency '99999'; known: ")
    assert "Traceback" not in refused.stderr
