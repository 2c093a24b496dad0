"""Schemathesis against the running API's own OpenAPI document: generated requests, valid and
not, to every endpoint; no 5xx, and every answer matches the documented status and schema."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
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
from services.common.settings import CommonSettings
from services.common.topics import Topics, ensure_topics
from tests.conftest import SCHEMAS_DIR
from tests.integration.conftest import (
    delete_topics,
    drop_database,
    fresh_database_url,
    new_key,
)
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_url(stack: Any) -> Iterator[str]:
    """A real API process (uvicorn) on the test stack, with keys in a database of its own."""
    database_url = asyncio.run(fresh_database_url())
    topics = Topics(namespace=f"c{uuid.uuid4().hex[:10]}.")
    asyncio.run(ensure_topics(stack.bootstrap, topics.partitions(load_feeds(SCHEMAS_DIR))))
    port = free_port()
    settings = replace(
        CommonSettings.from_env({}),
        database_url=database_url,
        kafka_bootstrap=stack.bootstrap,
        topics=topics,
        schemas_dir=SCHEMAS_DIR,
    )
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
        asyncio.run(delete_topics(stack.bootstrap, names))


schema = schemathesis.pytest.from_fixture("api_schema")


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The push body's NDJSON form: the generated text as it is (anything else, as JSON)."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


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
