"""The connectors' Prometheus metrics (served on IOC_CONNECTORS_METRICS_PORT).

``deploy/prometheus/rules`` alerts on a connector without a success for three of its periods:
since its last success, or since the service started when it has had none."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import Counter, Gauge

from services.connectors.definitions import Connector

LAST_SUCCESS = Gauge(
    "ioc_connector_last_success_timestamp_seconds",
    "Unix time of the connector's last complete pull (0: none yet)",
    ["connector"],
)
STARTED = Gauge(
    "ioc_connector_started_timestamp_seconds",
    "Unix time the connector was first scheduled by this process",
    ["connector"],
)
PERIOD = Gauge("ioc_connector_period_seconds", "The connector's `every`", ["connector"])
RECORDS = Counter(
    "ioc_connector_records_total",
    "Records pulled and produced to the feed's raw topic, by the intake's verdict",
    ["connector", "outcome"],
)
PAGES = Counter("ioc_connector_pages_total", "Pages fetched", ["connector"])
FAILURES = Counter(
    "ioc_connector_failures_total",
    "Pulls that failed, by kind (http, credentials, not_json, unreadable, kafka, store)",
    ["connector", "kind"],
)
FAILURE_KINDS = ("http", "credentials", "not_json", "unreadable", "kafka", "store")


def initialise(connectors: Iterable[Connector], *, now: datetime) -> None:
    """Every connector's series from the start (a rate over them exists before a pull)."""
    for connector in connectors:
        name = connector.name
        LAST_SUCCESS.labels(connector=name).set(0)
        STARTED.labels(connector=name).set(now.timestamp())
        PERIOD.labels(connector=name).set(connector.every_s)
        PAGES.labels(connector=name)
        for outcome in ("valid", "invalid"):
            RECORDS.labels(connector=name, outcome=outcome)
        for kind in FAILURE_KINDS:
            FAILURES.labels(connector=name, kind=kind)
