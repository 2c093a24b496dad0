"""A guard against drift of the settings the promises rest on: every Kafka producer in the
services waits for all in-sync replicas and is idempotent, every consumer commits by hand (after
the database transaction). Read from the source, so a new producer or consumer is guarded too.
The database's own durability settings are guarded in tests/integration/common/test_stack.py,
the brokers' replication settings here (the template) and by the cluster test (running)."""

from __future__ import annotations

import ast
from pathlib import Path

from services.common.settings import REPO_ROOT

REQUIRED: dict[str, dict[str, object]] = {
    "AIOKafkaProducer": {"acks": "all", "enable_idempotence": True},
    "AIOKafkaConsumer": {"enable_auto_commit": False},
}


def _calls() -> list[tuple[Path, int, str, dict[str, object]]]:
    found: list[tuple[Path, int, str, dict[str, object]]] = []
    for path in sorted((REPO_ROOT / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id in REQUIRED:
                keywords: dict[str, object] = {
                    k.arg: k.value.value
                    for k in node.keywords
                    if k.arg and isinstance(k.value, ast.Constant)
                }
                found.append((path, node.lineno, node.func.id, keywords))
    return found


def test_every_kafka_client_keeps_the_durability_settings() -> None:
    calls = _calls()
    assert {name for _, _, name, _ in calls} == set(REQUIRED), "the guard sees both kinds"
    drifted = [
        f"{path.relative_to(REPO_ROOT)}:{line} {name} needs {setting}={value!r}"
        for path, line, name, keywords in calls
        for setting, value in REQUIRED[name].items()
        if keywords.get(setting) != value
    ]
    assert drifted == []


def test_the_broker_template_keeps_replication_safe() -> None:
    # Every node's configuration comes from this template; the running 3-node cluster's topics
    # are checked in tests/integration/test_kafka_cluster.py (replication 3, min ISR 2).
    template = REPO_ROOT / "deploy" / "kafka" / "server.properties.in"
    settings = dict(
        line.split("=", 1)
        for line in template.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert settings["unclean.leader.election.enable"] == "false"
    assert settings["default.replication.factor"] == "@REPLICATION@"
    assert settings["min.insync.replicas"] == "@MIN_ISR@"
    assert settings["transaction.state.log.min.isr"] == "@MIN_ISR@"
    stack = (REPO_ROOT / "deploy" / "stack.sh").read_text(encoding="utf-8")
    # Replicated on every node, acknowledged by a majority of them.
    assert '-e "s|@REPLICATION@|$KAFKA_NODES|g"' in stack
    assert '-e "s|@MIN_ISR@|$((KAFKA_NODES / 2 + 1))|g"' in stack
