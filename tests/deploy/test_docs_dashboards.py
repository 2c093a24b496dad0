"""docs/architecture.md names every dashboard deploy/grafana/ provisions."""

from __future__ import annotations

from services.common.settings import REPO_ROOT
from tests.deploy.grafana import load_dashboards


def test_the_architecture_page_names_every_dashboard() -> None:
    page = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = {
        "ioc-overview": "IOC overview",
        "feed-health": "feed health",
        "pipeline-operations": "pipeline operations",
        "units": "units (",
    }
    assert set(load_dashboards()) == set(named)
    for title in named.values():
        assert title in page, title
