"""A real Prometheus server scraping a real API and worker, with the alert rules of
deploy/prometheus/: the pipeline's series arrive, and a stale feed raises its alert."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.settings import REPO_ROOT, CommonSettings
from tests.deploy.grafana import PROMETHEUS_UID, expand_promql
from tests.deploy.grafana import targets as targets_of
from tests.integration.messages import air_reading, salinity_reading
from tests.integration.pipeline import produce
from tests.integration.processes import free_port, running_service, service_env, wait_for_url

pytestmark = pytest.mark.integration

RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "ioc-alerts.yml"


@contextmanager
def _prometheus(targets: dict[str, str], home: Path) -> Iterator[str]:
    """Prometheus with the project's alert rules, scraping the given jobs every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make tools` installs Debian's prometheus package")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    with open(home / "prometheus.log", "wb") as log:
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_url(f"{url}/-/ready", server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _api(url: str, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{query}", timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def _eventually(check: Any, what: str, within_s: float = 60.0) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus never saw {what}")
        time.sleep(0.5)


def test_prometheus_scrapes_the_pipeline_and_calls_a_stale_feed(
    settings: CommonSettings, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # Salinity reports every 15 minutes: an hour old is past its 35-minute deadline. Air quality
    # reports hourly: this minute's reading is live.
    asyncio.run(produce(settings, "salinity", [salinity_reading(now - timedelta(hours=1))]))
    asyncio.run(produce(settings, "air-quality", [air_reading(now)]))

    api_port, worker_port = free_port(), free_port()
    env = service_env(
        settings,
        IOC_FRESHNESS_REFRESH_S="1",
        IOC_WORKER_METRICS_PORT=str(worker_port),
        IOC_WORKER_GROUP=f"prometheus-{api_port}",
    )
    api_url = f"http://127.0.0.1:{api_port}"
    worker_url = f"http://127.0.0.1:{worker_port}"
    targets = {"ioc-api": f"127.0.0.1:{api_port}", "ioc-worker": f"127.0.0.1:{worker_port}"}
    with (
        running_service(["worker"], env, f"{worker_url}/metrics", tmp_path / "worker.log"),
        running_service(["api", "--port", str(api_port)], env, f"{api_url}/healthz"),
        _prometheus(targets, tmp_path) as prometheus,
    ):

        def value(query: str) -> float | None:
            result = _api(prometheus, "/api/v1/query", query=query)["result"]
            return float(result[0]["value"][1]) if result else None

        _eventually(lambda: value('ioc_ingest_rows_written_total{feed="salinity"}'), "rows")
        _eventually(lambda: value('ioc_ingest_rows_written_total{feed="air-quality"}'), "rows")
        _eventually(lambda: value('up{job="ioc-worker"}') == 1, "the worker up")
        _eventually(lambda: value('up{job="ioc-api"}') == 1, "the API up")
        _eventually(
            lambda: value('ioc_feed_status{feed="air-quality",status="live"}') == 1, "live air"
        )
        assert value('ioc_feed_deadline_seconds{feed="salinity"}') == 2 * 900 + 300
        assert (value('ioc_feed_age_seconds{feed="salinity"}') or 0) > 3600 - 60
        assert value("sum(ioc_api_request_duration_seconds_count)") is not None
        assert value("sum(ioc_ingest_write_seconds_count)") is not None
        assert value("count(ioc_ingest_consumer_lag_records)") is not None

        def salinity_alert() -> list[dict[str, Any]]:
            alerts = _api(prometheus, "/api/v1/alerts")["alerts"]
            return [
                alert
                for alert in alerts
                if alert["labels"]["alertname"] == "IocFeedSilent"
                and alert["labels"]["feed"] == "salinity"
                and alert["state"] == "firing"
            ]

        [alert] = _eventually(salinity_alert, "the stale-feed alert firing")
        assert alert["labels"]["agency"] == "snnmt"
        assert alert["annotations"]["summary"] == "snnmt: feed salinity is stale"
        firing = {
            (a["labels"]["alertname"], a["labels"].get("feed"))
            for a in _api(prometheus, "/api/v1/alerts")["alerts"]
            if a["state"] == "firing"
        }
        assert ("IocFeedSilent", "air-quality") not in firing
        assert ("IocWorkerDown", None) not in firing

        # Every Grafana panel's PromQL, expanded as Grafana would, runs and finds its series.
        for target in targets_of(PROMETHEUS_UID):
            expr = expand_promql(target.query["expr"], rate_interval="1m", variables={"feed": ".*"})
            # A rate needs two scrapes of its counter: wait for them rather than race them.
            _eventually(
                lambda e=expr: _api(prometheus, "/api/v1/query", query=e)["result"], target.name
            )
