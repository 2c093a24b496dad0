"""Every SQL query of the Grafana dashboards, expanded as Grafana would, runs against a store
holding the departments' example feeds and returns rows of the shape its panel expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from services.api.reminders.evaluator import Reminding, evaluate
from services.api.reminders.settings import ReminderSettings
from services.api.units import repository as units_register
from services.common.db import create_pool
from services.common.feeds import FeedDefinition
from services.common.grafana_role import grant
from services.common.settings import CommonSettings
from tests.deploy.grafana import STORE_UID, Target, expand_sql, load_dashboards, store_variables
from tests.deploy.grafana import targets as dashboard_targets
from tests.integration.conftest import db_connection
from tests.integration.pipeline import TEST_NOW, ingest_every_example

pytestmark = pytest.mark.integration

GRAFANA_ROLE = "ioc_grafana_test"
NUMBER = int | float | Decimal
TIME = NUMBER | datetime  # Grafana reads a time column as Unix seconds or as a timestamp


def _shape_problem(target: Target, rows: list[Any]) -> str | None:
    """What is wrong with the rows for the panel that shows them, or None."""
    if not rows:
        return "no rows"
    columns = list(rows[0].keys())
    numeric = [c for c in columns if all(isinstance(r[c], NUMBER | None) for r in rows)]
    numeric = [c for c in numeric if c != "time" and any(r[c] is not None for r in rows)]
    if target.query["format"] == "time_series":
        if columns[0] != "time" or not all(isinstance(r["time"], TIME) for r in rows):
            return f"a time series needs a 'time' column first (epoch or timestamp), got {columns}"
        times = [r["time"] for r in rows]
        if times != sorted(times):
            return "a time series must come ordered by time"
        if "metric" in columns and not all(isinstance(r["metric"], str) for r in rows):
            return "the 'metric' column names the series: text"
    if not numeric and target.panel["type"] != "table":
        return f"no numeric column to show in a {target.panel['type']} panel, got {columns}"
    if target.panel["type"] == "stat" and len(rows) != 1:
        return f"a stat panel shows one value, got {len(rows)} rows"
    return None


async def _evaluate_reminders(settings: CommonSettings, feeds: dict[str, FeedDefinition]) -> None:
    reminding = Reminding.load(settings.schemas_dir, feeds, ReminderSettings.from_env({}))
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        async with pool.acquire() as connection:  # as the API does at start
            await units_register.record(connection, reminding.units)
        outcome = await evaluate(pool, reminding, TEST_NOW)
    finally:
        await pool.close()
    assert outcome.issued > 0  # the 2025 programme tasks are past due on TEST_NOW


async def _panel_problems(
    db: Any,
    targets: list[Target],
    variables: dict[str, dict[str, list[str]]],
    *,
    time_from: datetime,
    time_to: datetime,
) -> dict[str, str]:
    problems = {}
    for target in targets:
        sql = expand_sql(
            target.query["rawSql"],
            time_from=time_from,
            time_to=time_to,
            interval="1h",
            variables=variables[target.dashboard],
        )
        problem = _shape_problem(target, await db.fetch(sql))
        if problem:
            problems[target.name] = problem
    return problems


@pytest.mark.asyncio(loop_scope="session")
async def test_every_panel_query_returns_the_shape_its_panel_expects(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: Any
) -> None:
    await ingest_every_example(settings, feeds, extra={"salinity": [b"not json at all"]})
    await _evaluate_reminders(settings, feeds)  # the units dashboard's scorecards and register
    # Every query below runs as the role `ioc grafana-role` makes: it reads what the panels
    # read, and not the keys.
    async with db_connection(db) as grafana:
        await grant(grafana, GRAFANA_ROLE, None)
        await grafana.execute(f"SET ROLE {GRAFANA_ROLE}")
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await grafana.fetch("SELECT * FROM api_keys")
            await _every_panel_has_its_shape(grafana)
        finally:
            await grafana.execute("RESET ROLE")


async def _every_panel_has_its_shape(grafana: Any) -> None:
    # Each dashboard's variables hold every value their own queries give ("All").
    variables: dict[str, dict[str, list[str]]] = {}
    for name, dashboard in load_dashboards().items():
        variables[name] = {}
        for variable in store_variables(dashboard):
            rows = await grafana.fetch(variable["query"])
            # A variable shows __text and selects by __value where its query names them.
            values = [row.get("__value", row[0]) for row in rows]
            assert values, f"{name}: variable {variable['name']} has no values"
            variables[name][variable["name"]] = values

    # The examples' days and the scorecards of TEST_NOW, whatever the real clock says; the
    # quarantined records are stamped by the store's clock as they arrived, so the range runs
    # on to then (TEST_NOW alone would leave the quarantine panels empty).
    targets = list(dashboard_targets(STORE_UID))
    arrived = await grafana.fetchval("SELECT max(rejected_at) FROM rejections")
    around = await _panel_problems(
        grafana,
        targets,
        variables,
        time_from=datetime(2026, 11, 20, tzinfo=UTC),
        time_to=max(arrived, TEST_NOW) + timedelta(days=1),
    )
    assert around == {}
    assert len(targets) >= 10

    # A week before any of it: the units dashboard's ranged panels find nothing.
    ranged = [t for t in targets if t.dashboard == "units" and "$__time" in t.query["rawSql"]]
    before = await _panel_problems(
        grafana,
        ranged,
        variables,
        time_from=TEST_NOW - timedelta(days=60),
        time_to=TEST_NOW - timedelta(days=53),
    )
    assert before == dict.fromkeys((t.name for t in ranged), "no rows")
    assert len(ranged) >= 4
