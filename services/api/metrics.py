"""The API's Prometheus metrics, and ``/metrics`` correct with one process or several.

With several API processes (``ioc api --processes N``) each writes its samples under
PROMETHEUS_MULTIPROC_DIR and ``/metrics`` merges them: counts are summed across processes,
freshness gauges (the same figure in every process) take the largest of the live ones.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "ioc_api_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
KEY_REJECTIONS = Counter(
    "ioc_api_key_rejections_total",
    "Requests refused for their key: unauthorized (missing, unknown, revoked) or forbidden",
    ["reason"],
)
for reason in ("unauthorized", "forbidden"):  # both series exist from the start, at zero
    KEY_REJECTIONS.labels(reason=reason)
FEED_LAST_EVENT = Gauge(
    "ioc_feed_last_event_timestamp_seconds",
    "Event time of the feed's newest record in the store",
    ["feed", "agency"],
    multiprocess_mode="livemax",
)
FEED_AGE = Gauge(
    "ioc_feed_age_seconds",
    "Age of the feed's newest event (sống): compare with ioc_feed_deadline_seconds",
    ["feed", "agency"],
    multiprocess_mode="livemax",
)
FEED_DEADLINE = Gauge(
    "ioc_feed_deadline_seconds",
    "Age past which the feed is stale: two expected intervals and a grace",
    ["feed", "agency"],
    multiprocess_mode="livemax",
)
FEED_STATUS = Gauge(
    "ioc_feed_status",
    "1 for the feed's current status (live, late, stale, silent), 0 for the others",
    ["feed", "agency", "status"],
    multiprocess_mode="livemax",
)
STORAGE_JOB_FAILING = Gauge(
    "ioc_storage_job_failing",
    "1 when the TimescaleDB job (compression, retention, aggregate refresh) failed its last run",
    ["storage_job"],
    multiprocess_mode="livemax",
)
STORAGE_JOB_LAST_SUCCESS = Gauge(
    "ioc_storage_job_last_success_timestamp_seconds",
    "When the TimescaleDB job last finished successfully",
    ["storage_job"],
    multiprocess_mode="livemax",
)
REMINDERS_OPEN = Gauge(
    "ioc_reminders_open",
    "Reminders not yet resolved, by rule (cause) and unit",
    ["rule", "unit"],
    multiprocess_mode="livemax",
)
REMINDER_DELIVERIES = Gauge(
    "ioc_reminder_deliveries",
    "Reminder deliveries by channel and status: pending (retrying), delivered, failed (given up)",
    ["channel", "status"],
    multiprocess_mode="livemax",
)
REMINDERS_UNDELIVERED = Gauge(
    "ioc_reminders_undelivered",
    "Deliveries given up whose reminder is still unresolved: a unit that may not know",
    ["channel"],
    multiprocess_mode="livemax",
)

UNMATCHED = "<unmatched>"  # one label for every unknown path: bounded cardinality


class RequestMetrics:
    """ASGI middleware timing each request under its route template (never its raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = scope.get("route")
            REQUEST_SECONDS.labels(
                route=getattr(route, "path", UNMATCHED), method=scope["method"], status=str(status)
            ).observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    """The metrics text: this process's, or every API process's when several share the port."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
