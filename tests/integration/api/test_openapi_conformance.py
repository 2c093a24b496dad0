"""Schemathesis against the running API's own OpenAPI document: generated requests, valid and
not, to every endpoint; no 5xx, and every answer matches the documented status and schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.feeds import load_feeds
from services.common.settings import REPO_ROOT
from services.common.topics import Topics, ensure_topics
from tests.conftest import SCHEMAS_DIR
from tests.integration.api import schemathesis_hooks  # noqa: F401 - registers the NDJSON form
from tests.integration.conftest import (
    delete_topics,
    drop_database,
    fresh_database_url,
    new_key,
    settings_for,
)
from tests.integration.processes import free_port, running_service, service_env

# Schemathesis's runner waits on its threads with timeouts, which libfaketime leaves hanging.
pytestmark = [pytest.mark.integration, pytest.mark.real_clock]
ARTIFACTS = REPO_ROOT / "artifacts"
# Per operation; `make test-faults` (IOC_FAULTS=full) tries many more.
MAX_EXAMPLES = "300" if os.environ.get("IOC_FAULTS") == "full" else "40"


@pytest.fixture(scope="module")
def api_url(stack: Any) -> Iterator[str]:
    """A real API process (uvicorn) on the test stack, with keys in a database of its own."""
    database_url = asyncio.run(fresh_database_url())
    topics = Topics(namespace=f"c{uuid.uuid4().hex[:10]}.")
    asyncio.run(ensure_topics(stack.kafka, topics.partitions(load_feeds(SCHEMAS_DIR))))
    port = free_port()
    settings = settings_for(database_url, stack.kafka, topics)
    env = service_env(settings, IOC_PUSH_RATE_PER_S="1000", IOC_PUSH_BURST="1000")
    url = f"http://127.0.0.1:{port}"
    try:
        with running_service(["api", "--port", str(port)], env, f"{url}/healthz"):
            key = asyncio.run(new_key(database_url, "agency", "snnmt"))
            os.environ["IOC_CONFORMANCE_KEY"] = key
            yield url
    finally:
        asyncio.run(drop_database(database_url))
        names = list(topics.partitions(load_feeds(SCHEMAS_DIR)))
        asyncio.run(delete_topics(stack.kafka, names))


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{api_url}/openapi.json")


@schema.exclude(path="/v1/stream").parametrize()  # an endless stream: tested on its own
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_openapi_promises(case: Any) -> None:
    # No 5xx, and every answer as documented: status, content type, headers, body schema.
    # Left out: positive-data acceptance (the push body's schema is "an array of messages";
    # which messages a feed accepts is its own schema's word, a 422 with reasons) and
    # negative-data rejection (unknown query parameters are ignored, and this test's own key
    # header stands in for any Authorization a negative case leaves out).
    case.call_and_validate(
        headers={"Authorization": f"Bearer {os.environ['IOC_CONFORMANCE_KEY']}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )


def test_schemathesis_finds_nothing_with_all_checks_negative_data_and_stateful_links(
    api_url: str,
) -> None:
    # The whole OpenAPI document, through schemathesis's own runner: every check it has
    # (including negative-data rejection, positive-data acceptance, ignored auth and the
    # stateful ones), positive and negative data, and the stateful phase, which chains calls by
    # the links it infers from the responses. The report is kept in artifacts/.
    ARTIFACTS.mkdir(exist_ok=True)
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(Path(__file__).parent / "schemathesis.toml"),
            "run",
            f"{api_url}/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--header",
            f"Authorization: Bearer {os.environ['IOC_CONFORMANCE_KEY']}",
            "--exclude-path",
            "/v1/stream",  # an endless stream: tested on its own
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            "20261126",
            "--workers",
            "1",
            "--no-color",
            "--generation-database",
            "none",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.integration.api.schemathesis_hooks"},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    (ARTIFACTS / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-6000:]
