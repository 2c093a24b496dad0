"""A Kafka that demands TLS, as a managed or shared one does: one listener takes SASL
(SCRAM-SHA-512) over TLS, another only client certificates. Through each, the topics are made,
the API accepts a push, `ioc produce` publishes and a worker stores every record; a wrong
password, an untrusted broker certificate, an untrusted or missing client certificate and
plaintext are each refused with the reason, by name. The CAs are throwaway ones made by the
test; the passwords come from files."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from shutil import rmtree

import asyncpg
import httpx
import pytest

from services.common.feeds import FeedDefinition
from services.common.kafka import KafkaConnection
from services.common.settings import CommonSettings
from services.common.topics import Topics
from tests.integration.certificates import signed, throwaway_ca
from tests.integration.conftest import StackUnderTest, new_key, settings_for
from tests.integration.own_kafka import cluster_id, running_kafka
from tests.integration.pipeline import all_committed, eventually, running_worker
from tests.integration.processes import free_port, run_ioc, running_service, service_env

# The broker keeps the real clock in make test's pass with the clock moved, and would find the
# certificates the test makes on the moved clock not yet valid.
pytestmark = [pytest.mark.integration, pytest.mark.real_clock]

USER = "ioc-worker"
PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class SecureKafka:
    folder: Path
    ports: dict[str, int]
    ca: Path
    client: tuple[Path, Path]  # key, certificate
    rogue_ca: Path
    rogue_client: tuple[Path, Path]
    password_file: Path

    def sasl(self, *, password: str = PASSWORD, ca: Path | None = None) -> KafkaConnection:
        return KafkaConnection(
            f"127.0.0.1:{self.ports['SASL_SSL']}",
            "SASL_SSL",
            ca_file=ca or self.ca,
            username=USER,
            password=password,
        )

    def certificate(self, client: tuple[Path, Path] | None = None) -> KafkaConnection:
        key, cert = client or self.client
        return KafkaConnection(
            f"127.0.0.1:{self.ports['SSL']}", "SSL", ca_file=self.ca, cert_file=cert, key_file=key
        )

    def service_env(self, settings: CommonSettings) -> dict[str, str]:
        """A service's environment as an operator sets it: the password as a file."""
        env = service_env(settings)
        if env.get("IOC_KAFKA_PASSWORD") == PASSWORD:
            del env["IOC_KAFKA_PASSWORD"]
            env["IOC_KAFKA_PASSWORD_FILE"] = str(self.password_file)
        return env


@pytest.fixture(scope="module")
def secure_kafka(stack: StackUnderTest) -> Iterator[SecureKafka]:
    home = Path(tempfile.mkdtemp(prefix="ioc-kafka-tls-"))
    try:
        ca = throwaway_ca(home, "ca")
        rogue_ca = throwaway_ca(home, "rogue-ca")
        broker_key, broker_cert = signed(home, "broker", "localhost", ca, server=True)
        client = signed(home, "client", USER, ca, server=False)
        rogue_client = signed(home, "rogue-client", USER, rogue_ca, server=False)
        keystore = home / "broker.pem"  # Kafka's PEM key store: the key, then its certificate
        keystore.write_text(broker_key.read_text() + broker_cert.read_text())
        password_file = home / "kafka-password"
        password_file.write_text(PASSWORD + "\n")
        settings = {
            "inter.broker.listener.name": "SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca[1]),
            "listener.name.ssl.ssl.client.auth": "required",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
        }
        user = f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"
        with running_kafka(
            {"SASL_SSL": "SASL_SSL", "SSL": "SSL"}, settings, ["--add-scram", user]
        ) as (folder, ports):
            yield SecureKafka(
                folder, ports, ca[1], client, rogue_ca[1], rogue_client, password_file
            )
    finally:
        rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("way", ["sasl", "certificate"])
@pytest.mark.asyncio(loop_scope="session")
async def test_the_pipeline_works_through_a_kafka_that_demands_tls(
    way: str,
    secure_kafka: SecureKafka,
    database_url: str,
    feeds: dict[str, FeedDefinition],
) -> None:
    kafka = secure_kafka.sasl() if way == "sasl" else secure_kafka.certificate()
    topics = Topics(namespace=f"s{uuid.uuid4().hex[:10]}.")
    store = settings_for(database_url, kafka, topics)
    env = secure_kafka.service_env(store)
    assert "IOC_KAFKA_PASSWORD" not in env

    made = run_ioc(env, "topics", "ensure")
    assert made.returncode == 0, made.stderr
    port = free_port()
    key = await new_key(database_url, "agency", "snnmt")
    pushed = {
        "ma_tram": "CM-SAL-77",
        "thoi_gian": "25/11/2026 09:00",
        "do_man_phan_nghin": "7,7",
        "muc_nuoc_cm": 90,
        "xa_phuong_ma": "32150",
    }
    with running_service(["api", "--port", str(port)], env, f"http://127.0.0.1:{port}/readyz"):
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/v1/feeds/salinity/messages",
                json=[pushed],
                headers={"Authorization": f"Bearer {key}"},
            )
    assert response.status_code == 202, response.text
    examples = feeds["salinity"].examples_path
    produced = run_ioc(env, "produce", "--feed", "salinity", str(examples))
    assert produced.returncode == 0, produced.stderr

    records = len(examples.read_bytes().splitlines()) + 1
    async with running_worker(store, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", records))
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            "SELECT value FROM observations WHERE entity = 'CM-SAL-77' AND metric = 'salinity_ppt'"
        )
    finally:
        await connection.close()
    assert stored == pytest.approx(7.7)


@pytest.mark.asyncio(loop_scope="session")
async def test_a_wrong_password_an_untrusted_certificate_and_plaintext_are_refused_by_name(
    secure_kafka: SecureKafka, stack: StackUnderTest
) -> None:
    tried = {
        "wrong password": secure_kafka.sasl(password="not-the-password"),
        "untrusted broker": secure_kafka.sasl(ca=secure_kafka.rogue_ca),
        "untrusted client": secure_kafka.certificate(client=secure_kafka.rogue_client),
        "no client certificate": replace(secure_kafka.certificate(), cert_file=None, key_file=None),
        "plaintext": KafkaConnection(f"127.0.0.1:{secure_kafka.ports['SASL_SSL']}"),
    }
    refusals = {}
    for attempt, kafka in tried.items():
        env = secure_kafka.service_env(settings_for("postgresql://unused/ioc", kafka, Topics("r.")))
        done = run_ioc(env, "topics", "ensure")
        assert done.returncode != 0, f"{attempt}: accepted"
        refusal = done.stderr.strip().splitlines()[-1]
        assert refusal.startswith("ioc topics: cannot use Kafka at 127.0.0.1:"), refusal
        assert "Traceback" not in done.stderr
        assert "not-the-password" not in done.stderr
        refusals[attempt] = refusal
    assert "Authentication failed" in refusals["wrong password"]
    assert "CERTIFICATE_VERIFY_FAILED" in refusals["untrusted broker"]
    assert "demands TLS" in refusals["plaintext"]
    for attempt in ("untrusted client", "no client certificate"):
        assert "client certificate it does not trust" in refusals[attempt]


def test_a_cluster_id_of_the_tests_own_kafka_never_reads_as_an_option() -> None:
    assert not any(cluster_id().startswith("-") for _ in range(2_000))  # 1 in 64 did
