"""The Grafana provisioning of deploy/grafana/ hangs together: every dashboard is valid JSON
with a unique uid, and every panel and variable uses a provisioned datasource."""

from __future__ import annotations

from tests.deploy.grafana import (
    PROMETHEUS_UID,
    STORE_UID,
    datasource_uids,
    datasources,
    load_dashboards,
    targets,
)


def test_the_provisioned_datasources_are_the_store_and_prometheus() -> None:
    assert datasource_uids() == {STORE_UID, PROMETHEUS_UID}


def test_the_dashboards_have_unique_uids_and_panels() -> None:
    dashboards = load_dashboards()
    assert set(dashboards) == {"ioc-overview", "feed-health", "pipeline-operations", "units"}
    uids = [dashboard["uid"] for dashboard in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for dashboard in dashboards.values():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), dashboard["uid"]
        assert all(panel["targets"] for panel in dashboard["panels"]), dashboard["uid"]


def test_every_query_uses_a_provisioned_datasource() -> None:
    provisioned = datasource_uids()
    for dashboard in load_dashboards().values():
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in provisioned, panel["title"]
            for query in panel["targets"]:
                assert query["datasource"]["uid"] in provisioned, panel["title"]
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] in provisioned, variable["name"]
    assert any(True for _ in targets(STORE_UID))
    assert any(True for _ in targets(PROMETHEUS_UID))


def test_no_store_query_bounds_its_rows_by_the_real_clock() -> None:
    # A panel reads the dashboard's time range ($__timeFilter, $__timeFrom(), $__timeTo()): a
    # window cut at now() shows the last days whatever range the operator picked.
    for target in targets(STORE_UID):
        where = target.query["rawSql"].partition("WHERE")[2]
        assert "now()" not in where, target.name


def test_the_store_datasource_works_on_both_stores() -> None:
    # The datasource says TimescaleDB (the default store); the one macro that flag changes,
    # $__timeGroup (time_bucket() with it, absent from plain PostgreSQL), no panel uses:
    # buckets are date_bin(), in both.
    [store] = [d for d in datasources() if d["uid"] == STORE_UID]
    assert store["jsonData"]["timescaledb"] is True
    for target in targets(STORE_UID):
        assert "$__timeGroup" not in target.query["rawSql"], target.name
