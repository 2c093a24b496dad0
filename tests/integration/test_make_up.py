"""The README's promise, end to end: `make up`, a salinity message produced to Kafka is served
by the API with its canonical values, and it survives `make down && make up`."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import REPO_ROOT
from tests.integration.conftest import TIMESCALEDB_INSTALLED

pytestmark = pytest.mark.integration

PORTS = {
    "IOC_PG_PORT": "25452",
    "IOC_KAFKA_PORT": "19202",
    "IOC_API_PORT": "8010",
    "IOC_MAIL_PORT": "2535",
}
MESSAGE = {
    "ma_tram": "CM-SAL-99",
    "thoi_gian": "25/11/2026 06:00",
    "do_man_phan_nghin": "12,4",
    "muc_nuoc_cm": 107,
    "xa_phuong_ma": "32150",
}


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
        **PORTS,
        "IOC_STACK_DIR": str(tmp_path / "stack"),
        "IOC_SIMULATE": "1",  # the simulator plays every feed; its entities differ from ours
        "IOC_WORKER_METRICS_PORT": "9111",
        "IOC_CONNECTORS_METRICS_PORT": "9112",
        "IOC_SIMULATOR_API_PORT": "8011",
        "IOC_FRESHNESS_REFRESH_S": "1",
    }
    try:
        yield env
    finally:
        subprocess.run(["make", "-s", "reset"], cwd=REPO_ROOT, env=env, check=False)


def _make(env: dict[str, str], target: str) -> str:
    result = subprocess.run(
        ["make", "-s", target], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _observations(key: str) -> list[dict[str, object]]:
    url = (
        f"http://127.0.0.1:{PORTS['IOC_API_PORT']}/v1/feeds/salinity/observations?entity=CM-SAL-99"
    )
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        observations: list[dict[str, object]] = json.load(response)["observations"]
        return observations


def _wait_for_observations(key: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # the API may still be starting
            if found := _observations(key):
                return found
        time.sleep(0.5)
    raise AssertionError("the produced message never reached the API")


def _get(path: str, key: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{PORTS['IOC_API_PORT']}{path}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def _wait_for_sparkline(key: str) -> None:
    """The wall's sparklines: the simulator's live readings in a series of the last day, read
    (in TimescaleDB mode) through the aggregates' real-time part."""
    deadline = time.monotonic() + 60
    while not _get("/v1/indicators/salinity.max_ppt/series?interval=5m", key)["points"]:
        if time.monotonic() > deadline:
            raise AssertionError("the simulator's readings never reached a series")
        time.sleep(1)


def _metrics(port: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
        return text


def _wait_for_per_feed_metrics() -> None:
    """While the simulator plays, the worker's and the API's /metrics carry every feed."""
    feeds = sorted(path.name for path in (REPO_ROOT / "schemas" / "feeds").iterdir())
    deadline = time.monotonic() + 60
    while True:
        worker, api = _metrics("9111"), _metrics(PORTS["IOC_API_PORT"])
        missing = [
            feed
            for feed in feeds
            if not re.search(rf'ioc_ingest_records_total{{feed="{feed}"}} [1-9]', worker)
            or 'ioc_feed_status{agency="' not in api
            or not re.search(rf'ioc_feed_age_seconds{{agency="[a-z]+",feed="{feed}"}}', api)
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no per-feed series for {missing} in /metrics")
        time.sleep(1)


def _wait_for_a_reminder_in_the_mail_sink(env: dict[str, str]) -> None:
    """A reminder issued by hand is delivered by e-mail to the local mail sink, which keeps it
    as a .eml file in the stack's mail/ (no relay needed on a newcomer's machine)."""
    issued = subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "ioc"),
            *("reminders", "issue", "--unit", "sxd", "--cause", "Thử gửi thư"),
            *("--asked", "Không cần trả lời."),
        ],
        env={
            **env,
            "IOC_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{PORTS['IOC_PG_PORT']}/ioc",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    number = f"{issued.stdout.split()[2]}/PNV-IOC"
    mail = Path(env["IOC_STACK_DIR"]) / "mail"
    deadline = time.monotonic() + 60
    while True:
        subjects = [
            str(email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"])
            for f in mail.glob("*.eml")
        ]
        if any(f"Phiếu nhắc việc số {number}" in subject for subject in subjects):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no e-mail of reminder {number} in {mail}: {subjects}")
        time.sleep(1)


def test_make_up_serves_a_produced_message_and_keeps_it_across_a_restart(
    local_stack: dict[str, str], tmp_path: Path
) -> None:
    printed = _make(local_stack, "up")
    key = (Path(local_stack["IOC_STACK_DIR"]) / "wall-reader.key").read_text().strip()
    operator = (Path(local_stack["IOC_STACK_DIR"]) / "console-operator.key").read_text().strip()
    assert f"/console#key={operator}" in printed
    assert "deliveries" in _get("/v1/deliveries", operator)  # an operator's key: no 403
    message_file = tmp_path / "message.ndjson"
    message_file.write_text(json.dumps(MESSAGE) + "\n", encoding="utf-8")
    subprocess.run(
        [
            str(REPO_ROOT / ".venv" / "bin" / "ioc"),
            "produce",
            "--feed",
            "salinity",
            str(message_file),
        ],
        env={**local_stack, "IOC_KAFKA_BOOTSTRAP": f"127.0.0.1:{PORTS['IOC_KAFKA_PORT']}"},
        check=True,
    )
    expected = [
        {
            "entity": "CM-SAL-99",
            "metric": "salinity_ppt",
            "ts": "2026-11-24T23:00:00Z",
            "value": 12.4,
            "unit": "‰",
        },
        {
            "entity": "CM-SAL-99",
            "metric": "water_level_m",
            "ts": "2026-11-24T23:00:00Z",
            "value": 1.07,
            "unit": "m",
        },
    ]
    assert _wait_for_observations(key) == expected
    _wait_for_per_feed_metrics()
    ready = _get("/readyz", key)
    assert ready["storage_mode"] == ("timescaledb" if TIMESCALEDB_INSTALLED else "postgres")
    _wait_for_sparkline(key)
    _wait_for_a_reminder_in_the_mail_sink(local_stack)

    again = _make(local_stack, "up")
    assert "already running" in again
    assert "starting" not in again

    _make(local_stack, "down")
    _make(local_stack, "up")
    assert _wait_for_observations(key) == expected
