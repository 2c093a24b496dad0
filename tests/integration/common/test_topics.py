"""`ioc topics ensure`: every topic the feeds need is made once, and what Kafka refuses to make
is said by name and reason (the broker answers a refusal in its response; no client raises it)."""

from __future__ import annotations

import pytest

from services.common.settings import CommonSettings
from tests.integration.processes import run_ioc, service_env

pytestmark = pytest.mark.integration


def test_topics_that_exist_are_left_as_they_are(settings: CommonSettings) -> None:
    done = run_ioc(service_env(settings), "topics", "ensure")
    assert done.returncode == 0, done.stderr
    assert "topics ready (0 created: none)" in done.stdout


def test_a_topic_kafka_refuses_is_named_with_the_reason(settings: CommonSettings) -> None:
    env = service_env(settings, IOC_TOPIC_NAMESPACE="no spaces.")
    done = run_ioc(env, "topics", "ensure")
    assert done.returncode == 1
    assert done.stderr.startswith("ioc topics: Kafka refused to create ")
    assert "no spaces.ioc.raw.salinity: InvalidTopicError (Topic name is invalid" in done.stderr
    assert "Traceback" not in done.stderr
