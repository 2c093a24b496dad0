"""The container image, built and run for real: a Debian bookworm base made by debootstrap (no
image registry is reachable here), the image built from deploy/image/Containerfile by buildah,
then the API and a worker run from it (`buildah run --isolation chroot`, which shares the host's
network) against the test stack: /readyz answers, and a reading pushed to the API is stored by
the worker. `podman run` cannot start containers in these sandboxes (cgroups v1 hybrid,
rlimits refused), so the tests do not pretend it does (docs/deploy.md)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.feeds import FeedDefinition
from services.common.settings import REPO_ROOT, CommonSettings
from tests.integration.conftest import STACK_DIR, new_key
from tests.integration.pipeline import eventually
from tests.integration.processes import free_port

pytestmark = pytest.mark.integration
IMAGES = Path(STACK_DIR) / "image"  # the base's root file system and buildah's storage
BASE = "localhost/ioc-base:bookworm"
IMAGE = "localhost/ioc-stream:test"


def _buildah(*args: str, timeout_s: float = 1200) -> str:
    buildah = shutil.which("buildah")
    if buildah is None:
        pytest.fail("buildah is missing: `make tools` installs Debian's buildah and debootstrap")
    storage = ["--root", str(IMAGES / "storage"), "--runroot", str(IMAGES / "run")]
    done = subprocess.run(
        [buildah, *storage, "--storage-driver", "vfs", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, f"buildah {args[0]}: {done.stderr[-3000:]}"
    return done.stdout.strip()


def _base_image() -> None:
    """Debian bookworm (minbase) from Debian's mirror, imported once as an image."""
    if BASE in _buildah("images", "--format", "{{.Name}}:{{.Tag}}").split():
        return
    rootfs = IMAGES / "rootfs"
    if not (rootfs / "etc" / "debian_version").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs)],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    container = _buildah("from", "scratch")
    mount = _buildah("mount", container)
    subprocess.run(["cp", "-a", f"{rootfs}/.", mount], check=True)
    _buildah("umount", container)
    _buildah("commit", "-q", container, BASE)
    _buildah("rm", container)


@pytest.fixture(scope="module")
def image() -> str:
    if os.geteuid() != 0:
        pytest.fail("building the image needs root here (debootstrap, buildah's chroot)")
    IMAGES.mkdir(parents=True, exist_ok=True)
    _base_image()
    _buildah(
        "bud",
        "--isolation",
        "chroot",
        "--build-arg",
        f"BASE={BASE}",
        "--layers=false",
        # This machine reaches PyPI through a proxy that signs with its own CA: the build
        # trusts what the host trusts.
        "--volume",
        "/etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro",
        "--build-arg",
        "PIP_CERT=/run/host-ca.crt",
        "-f",
        "deploy/image/Containerfile",
        "-t",
        IMAGE,
        ".",
    )
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = f"ioc-{uuid.uuid4().hex[:8]}"
    _buildah("from", "--name", name, image)
    try:
        yield name
    finally:
        _buildah("rm", name)


def _run(container: str, env: dict[str, str], *command: str) -> subprocess.Popen[bytes]:
    """``command`` in the container, sharing the host's network, as the image's user."""
    buildah = shutil.which("buildah")
    assert buildah is not None
    settings = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    return subprocess.Popen(
        [
            buildah,
            "--root",
            str(IMAGES / "storage"),
            "--runroot",
            str(IMAGES / "run"),
            "--storage-driver",
            "vfs",
            "run",
            "--isolation",
            "chroot",
            *settings,
            container,
            "--",
            *command,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # stopped as a group: buildah and what it runs
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_the_image_runs_the_api_and_a_worker_that_store_a_pushed_reading(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], db: object, container: str
) -> None:
    port = free_port()
    env = {
        "IOC_DATABASE_URL": settings.database_url,
        "IOC_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "IOC_TOPIC_NAMESPACE": settings.topics.namespace,
        "IOC_API_PORT": str(port),
        "IOC_WORKER_METRICS_PORT": "0",
    }
    api = _run(container, env, "ioc", "api")
    worker = _run(container, env, "ioc", "worker")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert api.poll() is None, "the API in the image exited"
                assert time.monotonic() < deadline, "the API in the image never became ready"
                await asyncio.sleep(0.5)
            key = await new_key(settings.database_url, "agency", feeds["salinity"].agency)
            reading = feeds["salinity"].examples_path.read_bytes().splitlines()[0]
            pushed = await http.post(
                "/v1/feeds/salinity/messages",
                content=b"[" + reading + b"]",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            assert pushed.status_code == 202, pushed.text

        async def stored() -> bool:
            assert worker.poll() is None, "the worker in the image exited"
            count = await db.fetchval(  # type: ignore[attr-defined]
                "SELECT count(*) FROM observations WHERE feed = 'salinity'"
            )
            return bool(count)

        await eventually(stored, within_s=90)
    finally:
        for process in (api, worker):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
