"""The units' scorecards are kept by their own loop: with the reminders switched off in a
process (``IOC_REMINDERS=0``), ``/v1/units`` still shows each day scored as the days go by."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.common.province import province_day
from services.common.settings import CommonSettings
from tests.integration.api.conftest import api_settings, serving
from tests.integration.conftest import new_key
from tests.integration.pipeline import eventually

pytestmark = pytest.mark.integration

DAY_ONE = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 in Cà Mau


@pytest.mark.asyncio(loop_scope="session")
async def test_units_are_scored_with_the_reminders_switched_off(
    settings: CommonSettings, database_url: str
) -> None:
    defaults = api_settings(settings)
    configured = replace(
        defaults,
        reminders=replace(defaults.reminders, enabled=False),
        scorecards=replace(defaults.scorecards, enabled=True, every_s=0.1),
    )
    now = [DAY_ONE]
    reader = {"Authorization": f"Bearer {await new_key(database_url, 'reader', 'committee')}"}
    async with serving(configured, clock=lambda: now[0]) as client:

        async def scored(day: datetime) -> bool:
            answer = await client.get("/v1/units/syt", headers=reader)
            assert answer.status_code == 200, answer.text
            today = answer.json()["today"]
            return today is not None and today["day"] == province_day(day).isoformat()

        await eventually(lambda: scored(DAY_ONE), within_s=10.0)
        now[0] = DAY_ONE + timedelta(days=1)
        await eventually(lambda: scored(now[0]), within_s=10.0)
        answer = await client.get("/v1/units/syt", headers=reader)
    days = [day["day"] for day in answer.json()["history"]]
    assert days == [province_day(DAY_ONE).isoformat(), province_day(now[0]).isoformat()]
