"""A PostgreSQL that demands TLS and client certificates, as a rented database does: with
``sslmode=verify-full`` and a client certificate in the store's URL the migrations, a real
worker and the API work through it; plaintext, a server the client's CA did not sign, and a
client certificate the server's CA did not sign are each refused with a clear error. The CAs
are throwaway ones made by the test."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.common.db import create_pool
from services.common.feeds import FeedDefinition
from services.common.migrate import upgrade
from services.common.settings import CommonSettings
from tests.integration.certificates import signed, throwaway_ca
from tests.integration.conftest import StackUnderTest
from tests.integration.own_postgres import give_to_pg_owner, postgres_home, running_postgres
from tests.integration.pipeline import all_committed, eventually, produce, running_worker
from tests.integration.processes import free_port, running_service, service_env

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class SecureStore:
    port: int
    folder: Path
    ca: Path
    client: tuple[Path, Path]  # key, certificate
    rogue_ca: Path
    rogue_client: tuple[Path, Path]

    def url(
        self,
        *,
        ca: Path | None = None,
        client: tuple[Path, Path] | None = None,
        mode: str = "verify-full",
    ) -> str:
        key, cert = client or self.client
        return (
            f"postgresql://postgres@127.0.0.1:{self.port}/ioc?sslmode={mode}"
            f"&sslrootcert={ca or self.ca}&sslcert={cert}&sslkey={key}"
        )


@pytest.fixture
def secure_store(stack: StackUnderTest) -> Iterator[SecureStore]:
    with postgres_home("ioc-tls-") as home:
        ca = throwaway_ca(home, "ca")
        rogue_ca = throwaway_ca(home, "rogue-ca")
        server = signed(home, "server", "localhost", ca, server=True)
        client = signed(home, "client", "postgres", ca, server=False)
        rogue_client = signed(home, "rogue-client", "postgres", rogue_ca, server=False)
        give_to_pg_owner(*server)
        port = free_port()
        tls = [
            "ssl = on",
            f"ssl_cert_file = '{server[1]}'",
            f"ssl_key_file = '{server[0]}'",
            f"ssl_ca_file = '{ca[1]}'",
        ]
        # Over TCP only TLS with a client certificate the CA signed, whose name is the user's.
        hba = (
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 cert clientcert=verify-full\n"
            "hostnossl all all 127.0.0.1/32 reject\n"
        )
        with running_postgres(home, port, stack.storage_mode, tls, hba):
            yield SecureStore(port, home, ca[1], client, rogue_ca[1], rogue_client)


async def _refusal(url: str) -> str:
    """Why connecting to ``url`` was refused (a connection that succeeds fails the test)."""
    try:
        connection = await asyncpg.connect(url, timeout=10)
    except (asyncpg.PostgresError, ssl.SSLError, OSError) as error:
        return str(error)
    await connection.close()
    pytest.fail(f"connected where it should have been refused: {url}")


@pytest.mark.asyncio(loop_scope="session")
async def test_the_pipeline_works_through_tls_and_everything_else_is_refused(
    settings: CommonSettings,
    feeds: dict[str, FeedDefinition],
    secure_store: SecureStore,
    stack: StackUnderTest,
) -> None:
    url = secure_store.url()
    await asyncio.to_thread(upgrade, url, storage_mode=stack.storage_mode)
    store = replace(settings, database_url=url)
    examples = feeds["salinity"].examples_path.read_bytes().splitlines()
    await produce(store, "salinity", examples)
    async with running_worker(store, feeds) as worker:
        await eventually(lambda: all_committed(worker, "salinity", len(examples)))
    pool = await create_pool(url, max_size=1)
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT count(*) FROM observations") > 0
            assert await connection.fetchval(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
    finally:
        await pool.close()
    port = free_port()
    env = service_env(store)
    # /readyz answers 200 only once the API's store answered, here through TLS.
    ready = f"http://127.0.0.1:{port}/readyz"
    with running_service(["api", "--port", str(port)], env, ready):
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(ready)).status_code == 200

    plaintext = f"postgresql://postgres@127.0.0.1:{secure_store.port}/ioc?sslmode=disable"
    assert "no encryption" in await _refusal(plaintext)
    untrusted_server = secure_store.url(ca=secure_store.rogue_ca)
    assert "certificate verify failed" in await _refusal(untrusted_server)
    # asyncpg only sees the connection closed; the server's log says why, for its operator.
    await _refusal(secure_store.url(client=secure_store.rogue_client))
    log = secure_store.folder / "postgres.log"

    async def logged() -> bool:
        return "certificate verify failed" in log.read_text(encoding="utf-8")

    await eventually(logged, within_s=10)
