"""The services' own log output: JSON lines that say which record of which partition a
problem is about, and that never hold an API key."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import CommonSettings
from tests.integration.conftest import new_key
from tests.integration.pipeline import produce
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_quarantined_record_is_logged_with_its_partition_and_offset_and_no_key_is_logged(
    settings: CommonSettings, tmp_path: Path
) -> None:
    key = asyncio.run(new_key(settings.database_url, "reader", "wall"))
    asyncio.run(produce(settings, "salinity", [b'{"ma_tram": "S1"}', b"not json"]))
    worker_port, api_port = free_port(), free_port()
    env = service_env(settings, IOC_WORKER_METRICS_PORT=str(worker_port))
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    api_url = f"http://127.0.0.1:{api_port}"
    with (
        running_service(["worker"], env, f"http://127.0.0.1:{worker_port}/metrics", worker_log),
        running_service(["api", "--port", str(api_port)], env, f"{api_url}/healthz", api_log),
    ):
        request = urllib.request.Request(
            f"{api_url}/v1/feeds", headers={"Authorization": f"Bearer {key}"}
        )
        urllib.request.urlopen(request, timeout=5).close()
        deadline = time.monotonic() + 30
        while len(_quarantined(worker_log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)

    quarantined = _quarantined(worker_log)
    assert [(line["feed"], line["partition"], line["offset"]) for line in quarantined] == [
        ("salinity", 0, 0),
        ("salinity", 0, 1),
    ]
    assert quarantined[0]["topic"] == settings.topics.raw("salinity")
    assert quarantined[0]["batch"] >= 1
    assert "required property" in quarantined[0]["reason"]
    assert _lines(api_log), "the API logged nothing"
    assert any("/v1/feeds" in line["message"] for line in _lines(api_log))  # the access log
    for path in (worker_log, api_log):
        assert key not in path.read_text(encoding="utf-8")


def _quarantined(path: Path) -> list[dict[str, Any]]:
    return [line for line in _lines(path) if line["message"].startswith("record quarantined")]
