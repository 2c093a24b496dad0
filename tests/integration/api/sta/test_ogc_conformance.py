"""The OGC's own conformance suite (ets-sta10) against a real API process, over a store holding
every example feed. Its report is kept in artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.api.sta.ets import SENSING_CORE, run_suite
from tests.integration.conftest import STACK_DIR
from tests.integration.pipeline import ingest_every_example
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration
ARTIFACTS = REPO_ROOT / "artifacts"
# The Sensing Core class's tests in ets-sta10 1.5: a run that finds fewer has changed underneath.
SENSING_CORE_TESTS = {
    "checkServiceRootUri",
    "readEntitiesAndCheckResponse",
    "readNonexistentEntity",
    "readEntityAndCheckResponse",
    "readPropertyOfEntityAndCheckResponse",
    "checkResourcePaths",
}


@pytest.mark.asyncio(loop_scope="session")
async def test_the_ogc_suite_passes_its_sensing_core_class(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], tmp_path: Path
) -> None:
    await ingest_every_example(settings, feeds)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # No key: the suite reads what anyone may, the public feeds' entities.
    with running_service(["api", "--port", str(port)], service_env(settings), f"{url}/healthz"):
        found, report = run_suite(
            f"{url}/sta/v1.0", 1, tmp_path / "ets", Path(STACK_DIR) / "ets-sta10"
        )
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(report, ARTIFACTS / "ets-sta10-results.xml")

    sensing_core = {o.method: o for o in found if o.test_class == SENSING_CORE}
    assert set(sensing_core) == SENSING_CORE_TESTS
    failed = {name: o.message for name, o in sensing_core.items() if o.status != "PASS"}
    assert failed == {}
