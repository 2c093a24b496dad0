"""How the project's clients reach Kafka: one home for the connection (address, TLS, SASL) that
every client uses (the worker, the push, the CLI, the simulator, the benches and tests) and for
the producer's configuration."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL"]
SECURITY_PROTOCOLS: tuple[SecurityProtocol, ...] = ("PLAINTEXT", "SSL", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where the brokers are and how a client proves itself to them.

    PLAINTEXT is the local stack on loopback. SSL is TLS, the brokers' certificates checked
    against ``ca_file`` (the system's CAs without it) and, where the brokers ask for one, this
    client's certificate. SASL_SSL adds a user and password (SCRAM-SHA-512 unless said)."""

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str | None = field(default=None, repr=False)
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def described(self) -> str:
        """For logs and `ioc info`: never the password."""
        who = f" as {self.username} ({self.sasl_mechanism})" if self.uses_sasl else ""
        cert = f", client certificate {self.cert_file}" if self.cert_file else ""
        return f"{self.bootstrap} over {self.security_protocol}{who}{cert}"

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol == "SASL_SSL"

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client (producer, consumer, admin) takes."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol != "PLAINTEXT":
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return options

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the brokers' certificates and host names (create_ssl_context's default)."""
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.ca_file) if self.ca_file else None,
            certfile=str(self.cert_file) if self.cert_file else None,
            keyfile=str(self.key_file) if self.key_file else None,
            password=self.key_password,
        )
        return context

    def environment(self) -> dict[str, str]:
        """The IOC_KAFKA_* variables that give a child process this same connection."""
        env = {
            "IOC_KAFKA_BOOTSTRAP": self.bootstrap,
            "IOC_KAFKA_SECURITY_PROTOCOL": self.security_protocol,
            "IOC_KAFKA_SASL_MECHANISM": self.sasl_mechanism,
        }
        optional = {
            "IOC_KAFKA_CA_FILE": self.ca_file,
            "IOC_KAFKA_CERT_FILE": self.cert_file,
            "IOC_KAFKA_KEY_FILE": self.key_file,
            "IOC_KAFKA_KEY_PASSWORD": self.key_password,
            "IOC_KAFKA_USERNAME": self.username,
            "IOC_KAFKA_PASSWORD": self.password,
        }
        return env | {name: str(value) for name, value in optional.items() if value is not None}


async def why_refused(kafka: KafkaConnection, within_s: float = 10) -> str:
    """Why the first broker of ``kafka`` cannot be used, in its own words. aiokafka's clients
    only say "Unable to bootstrap"; this connects once more to find the reason for the
    operator (an untrusted certificate, a refused password, a plaintext client at a TLS port)."""
    host, _, port = kafka.bootstrap.split(",")[0].strip().rpartition(":")
    options = kafka.client_options()
    del options["bootstrap_servers"]
    try:
        connection = await create_conn(
            host, int(port), request_timeout_ms=int(within_s * 1000), **options
        )
    except (KafkaError, OSError, TimeoutError) as error:
        return _reason(kafka, error)
    connection.close()
    return "it answers now: the failure has passed, try again"


def _reason(kafka: KafkaConnection, error: BaseException) -> str:
    said, name = str(error), error.__class__.__name__
    reason = said if said.startswith(name) else f"{name}: {said}".rstrip(": ")
    if isinstance(error, OSError | TimeoutError) and not isinstance(error, ssl.SSLError):
        # No broker answers there at all (refused, unknown host, no reply).
        reason += ": is it running? make up starts it; IOC_KAFKA_BOOTSTRAP says where it is"
    if "closed" in said.lower():
        # The broker hangs up without a word; these are the usual causes.
        if kafka.security_protocol == "PLAINTEXT":
            reason += " (a broker that demands TLS closes plaintext connections)"
        else:
            reason += (
                " (a broker closes a TLS connection whose client certificate it does not trust"
                " or that brings none where it wants one)"
            )
    return reason


def admin_client(kafka: KafkaConnection, **tuning: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**kafka.client_options(), **tuning)


def durable_producer(kafka: KafkaConnection, **tuning: Any) -> AIOKafkaProducer:
    """A producer whose acknowledgement means every in-sync replica holds the message
    (acks=all) and whose retries neither duplicate nor reorder it (idempotent). ``tuning``:
    timeouts and batching only."""
    return AIOKafkaProducer(**kafka.client_options(), acks="all", enable_idempotence=True, **tuning)


@asynccontextmanager
async def producing(kafka: KafkaConnection, **tuning: Any) -> AsyncIterator[AIOKafkaProducer]:
    """A started ``durable_producer``, flushed and stopped on leaving (or failing to start)."""
    producer = durable_producer(kafka, **tuning)
    try:
        await producer.start()  # one that cannot start is stopped too: no "Unclosed" warning
        yield producer
    finally:
        await producer.stop()
