"""The Grafana dashboards of deploy/grafana/, read as Grafana reads them, and their queries
expanded as Grafana would expand them before sending them to the datasource."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.common.settings import REPO_ROOT

GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
STORE_UID = "ioc-store"
PROMETHEUS_UID = "ioc-prometheus"


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: dict[str, Any]
    query: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.panel['title']} ({self.query['refId']})"


def load_dashboards() -> dict[str, dict[str, Any]]:
    paths = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in paths}


def targets(uid: str) -> Iterator[Target]:
    for name, dashboard in load_dashboards().items():
        for panel in dashboard["panels"]:
            for query in panel["targets"]:
                if query["datasource"]["uid"] == uid:
                    yield Target(name, panel, query)


def store_variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in dashboard["templating"]["list"] if v["datasource"]["uid"] == STORE_UID]


def expand_sql(
    sql: str,
    *,
    time_from: datetime,
    time_to: datetime,
    interval: str,
    variables: Mapping[str, Sequence[str]],
) -> str:
    """Grafana's PostgreSQL macros and template variables (multi-value: quoted, comma-joined)."""
    start, end = (f"'{t.isoformat().replace('+00:00', 'Z')}'" for t in (time_from, time_to))
    sql = sql.replace("$__interval", interval)
    for name, values in variables.items():
        quoted = ",".join("'" + value.replace("'", "''") + "'" for value in values)
        sql = re.sub(rf"\$\{{{name}\}}|\${name}\b", quoted, sql)

    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN {start} AND {end}", sql)
    sql = sql.replace("$__timeFrom()", start).replace("$__timeTo()", end)
    assert "$" not in sql, f"a macro or variable left unexpanded: {sql}"
    return sql


def expand_promql(expr: str, *, rate_interval: str, variables: dict[str, str]) -> str:
    expr = expr.replace("$__rate_interval", rate_interval).replace("$__interval", rate_interval)
    for name, regex in variables.items():
        expr = re.sub(rf"\$\{{{name}\}}|\${name}\b", regex, expr)
    assert "$" not in expr, f"a variable left unexpanded: {expr}"
    return expr


def datasources() -> list[dict[str, Any]]:
    import yaml

    path: Path = GRAFANA_DIR / "provisioning" / "datasources" / "ioc.yaml"
    provisioned: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))[
        "datasources"
    ]
    return provisioned


def datasource_uids() -> set[str]:
    return {source["uid"] for source in datasources()}
