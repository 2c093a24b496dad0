"""The role Grafana reads the store as: SELECT on exactly the relations the dashboards of
``deploy/grafana/`` read, nothing else (not the keys' hashes, not the idempotency answers).
``tests/integration/test_grafana_panels.py`` runs every panel's SQL as this role."""

from __future__ import annotations

from typing import Any

# What the dashboards read: a panel reading anything else fails its test until it is added here.
DASHBOARD_RELATIONS = (
    "observations",
    "observations_5m",
    "observations_1h",
    "latest",
    "entities",
    "rejections",
    "unit_scores",
    "units",
    "reminders",
)
# Where a table holds what only a unit and the IOC's operators may see (a delivery's target: an
# e-mail address, a webhook URL with its token; its error), only the columns the panels read.
DASHBOARD_COLUMNS = {"reminder_deliveries": ("id", "reminder_id", "status")}


async def grant(connection: Any, role: str, password: str | None) -> bool:
    """Makes ``role`` a login role that may read only the dashboards' relations (its password
    set when given); True when it was created."""
    quoted = await connection.fetchval("SELECT quote_ident($1)", role)
    exists = await connection.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
    async with connection.transaction():
        if not exists:
            await connection.execute(f"CREATE ROLE {quoted} LOGIN")
        if password is not None:
            # Sent as a literal (a utility statement takes no parameters), quoted by the server.
            literal = await connection.fetchval("SELECT quote_literal($1)", password)
            await connection.execute(f"ALTER ROLE {quoted} PASSWORD {literal}")
        await connection.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}")
        await connection.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        relations = ", ".join(DASHBOARD_RELATIONS)
        await connection.execute(f"GRANT SELECT ON {relations} TO {quoted}")
        for table, columns in DASHBOARD_COLUMNS.items():
            await connection.execute(f"GRANT SELECT ({', '.join(columns)}) ON {table} TO {quoted}")
    return not exists
