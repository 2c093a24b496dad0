"""A Kafka broker of a test's own, for what the shared test stack's broker is not (one that
demands TLS, SASL or client certificates): one KRaft node in a folder of its own, on the jars
the stack already resolved, with ``listeners`` and settings the test gives, stopped and removed
afterwards."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from services.common.settings import REPO_ROOT
from tests.integration.conftest import STACK_DIR
from tests.integration.processes import free_port

LOG_CONFIG = REPO_ROOT / "deploy" / "kafka" / "log4j2.yaml"
# What a single node needs whatever its listeners: replication of one, topics made explicitly.
SINGLE_NODE = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "auto.create.topics.enable": "false",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "3",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}


@contextmanager
def running_kafka(
    listeners: dict[str, str], settings: dict[str, str], format_args: Sequence[str] = ()
) -> Iterator[tuple[Path, dict[str, int]]]:
    """A broker whose listeners are ``{name: security protocol}`` on free loopback ports, plus
    a CONTROLLER one, with ``settings`` added (``format_args`` go to its storage format, where
    SCRAM users are made). Yields its folder and each listener's port; its log is
    ``<folder>/kafka.log``."""
    home = Path(tempfile.mkdtemp(prefix="ioc-kafka-"))
    ports = {name: free_port() for name in [*listeners, "CONTROLLER"]}
    protocols = {**listeners, "CONTROLLER": "PLAINTEXT"}
    config = {
        **SINGLE_NODE,
        "controller.quorum.voters": f"1@127.0.0.1:{ports['CONTROLLER']}",
        "listeners": ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items()),
        "advertised.listeners": ",".join(f"{name}://127.0.0.1:{ports[name]}" for name in listeners),
        "listener.security.protocol.map": ",".join(f"{n}:{p}" for n, p in protocols.items()),
        "log.dirs": str(home / "data"),
        **settings,
    }
    properties = home / "server.properties"
    properties.write_text("".join(f"{key}={value}\n" for key, value in config.items()))
    classpath = (Path(STACK_DIR) / "kafka" / "classpath.txt").read_text().strip()
    formatted = subprocess.run(
        [
            "java",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id(),
            "-c",
            str(properties),
            *format_args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if formatted.returncode != 0:  # the tool says why (a bad setting, a port given twice)
        raise RuntimeError(f"the test's Kafka could not be formatted:\n{formatted.stderr}")
    log = home / "kafka.log"
    with open(log, "wb") as output:
        broker = subprocess.Popen(
            [
                "java",
                "-Xms64m",
                "-Xmx256m",
                f"-Dlog4j2.configurationFile={LOG_CONFIG}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(properties),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _until_started(broker, log)
        yield home, ports
    finally:
        os.killpg(broker.pid, signal.SIGTERM)
        try:
            broker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(broker.pid, signal.SIGKILL)
            broker.wait()
        shutil.rmtree(home, ignore_errors=True)


def cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, never starting
    with "-" (as Kafka's own ids): the storage tool would read one of 64 ids as an option and
    refuse to format ("argument --cluster-id: expected one argument", seen in a CI run)."""
    while (drawn := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))[0] == "-":
        pass
    return drawn


def _until_started(broker: subprocess.Popen[bytes], log: Path, within_s: float = 90) -> None:
    deadline = time.monotonic() + within_s
    while "Kafka Server started" not in log.read_text(errors="replace"):
        if broker.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"the test's Kafka did not start:\n{tail}")
        time.sleep(0.3)
