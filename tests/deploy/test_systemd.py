"""The systemd units of deploy/systemd/, checked by systemd itself: `systemd-analyze verify`
finds nothing to say of them, their hardening scores as systemd's "OK" exposure, and they ask
what the services need (readiness, a dedicated user, a drain long enough, a restart policy)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path

import pytest

from services.common.settings import REPO_ROOT

UNITS = REPO_ROOT / "deploy" / "systemd"
INSTALLED_IOC = "/opt/ioc-stream/.venv/bin/ioc"  # where docs/deploy.md installs it
SERVICES = (
    "ioc-api.service",
    "ioc-worker@1.service",
    "ioc-migrate.service",
    "ioc-connectors.service",
)


def _systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: Debian's systemd package has it")
    return tool


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units as installed, with the command pointing at this checkout's `ioc` (verify checks
    that every command exists), and the worker template instantiated once."""
    folder = tmp_path_factory.mktemp("units")
    here = str(REPO_ROOT / ".venv" / "bin" / "ioc")
    for unit in UNITS.glob("*.service"):
        text = unit.read_text(encoding="utf-8").replace(INSTALLED_IOC, here)
        (folder / unit.name).write_text(text, encoding="utf-8")
    shutil.copy(UNITS / "ioc-stream.target", folder)
    shutil.copy(folder / "ioc-worker@.service", folder / "ioc-worker@1.service")
    return folder


def _sections(path: Path) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_systemd_verifies_every_unit_without_a_word(units: Path) -> None:
    names = [str(units / name) for name in (*SERVICES, "ioc-stream.target")]
    result = subprocess.run(
        [_systemd_analyze(), "verify", "--man=no", *names],
        capture_output=True,
        text=True,
        check=False,
        cwd=units,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_hardened_to_an_ok_exposure(units: Path, name: str) -> None:
    result = subprocess.run(
        [_systemd_analyze(), "security", "--offline=true", "--no-pager", str(units / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found[1]) <= 2.0, result.stdout


@pytest.mark.parametrize(
    "name", ["ioc-api.service", "ioc-worker@.service", "ioc-connectors.service"]
)
def test_a_long_running_service_says_when_it_is_ready_and_drains_before_it_is_killed(
    name: str,
) -> None:
    service = _sections(UNITS / name)["Service"]
    assert service["Type"] == "notify"  # READY=1 from services/common/systemd.py
    assert service["User"] == "ioc"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["Restart"] == "on-failure"
    assert int(service["LimitNOFILE"]) >= 65536
    assert service["EnvironmentFile"] == "/etc/ioc-stream/ioc-stream.env"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= 30


def test_the_environment_file_names_only_settings_the_services_read() -> None:
    read = set()
    for source in (REPO_ROOT / "services").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        read |= set(re.findall(r"\"(IOC_[A-Z0-9_]+)\"", text))
        # A secret may come as a file instead: NAME_FILE (settings.env_secret).
        read |= {
            f"{name}_FILE" for name in re.findall(r"env_secret\(env, \"(IOC_[A-Z0-9_]+)\"", text)
        }
    env = (UNITS / "ioc-stream.env").read_text(encoding="utf-8")
    named = set(re.findall(r"^(IOC_[A-Z0-9_]+)=", env, flags=re.MULTILINE))
    assert named
    assert named - read - {"IOC_API_PROCESSES"} == set()  # that one is the unit's own


def test_the_install_script_lays_out_code_units_environment_and_a_worker_per_core(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [str(UNITS / "install.sh"), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "opt/ioc-stream/schemas/feeds/salinity/feed.yaml").is_file()
    assert not (tmp_path / "opt/ioc-stream/.git").exists()
    installed = tmp_path / "etc/systemd/system"
    assert {p.name for p in installed.glob("*.service")} == {
        p.name for p in UNITS.glob("*.service")
    }
    assert (tmp_path / "etc/ioc-stream/ioc-stream.env").stat().st_mode & 0o777 == 0o640
    wants = {p.name for p in (installed / "ioc-stream.target.wants").iterdir()}
    workers = {f"ioc-worker@{n}.service" for n in range(1, (os.cpu_count() or 1) + 1)}
    assert wants == workers | {"ioc-api.service"}  # no connector defined: no connectors service


def test_the_install_script_enables_the_connectors_where_the_province_defined_some(
    tmp_path: Path,
) -> None:
    connectors = tmp_path / "etc/ioc-stream/connectors"
    connectors.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "schemas/connectors/syt-giuong-benh.yaml", connectors)
    result = subprocess.run(
        [str(UNITS / "install.sh"), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wants = {p.name for p in (tmp_path / "etc/systemd/system/ioc-stream.target.wants").iterdir()}
    assert "ioc-connectors.service" in wants
