"""`ioc` fails in one line (STYLE 20): a store that is down, a broker that refuses, a file that is
not there or a bad setting is said after the command's name with what to do, and the exit code is
1; a reader that leaves early ends it quietly; a bug keeps its traceback. The commands run as real
processes against port 1, where nothing listens."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services import cli
from services.common.settings import REPO_ROOT
from tests.conftest import SCHEMAS_DIR
from tests.integration.processes import run_ioc

NOWHERE = "127.0.0.1:1"


def _env(**extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IOC_", "PROMETHEUS_"))},
        "IOC_DATABASE_URL": f"postgresql://ioc:s3cret@{NOWHERE}/ioc",
        "IOC_KAFKA_BOOTSTRAP": NOWHERE,
        "IOC_WORKER_METRICS_PORT": "0",
        **extra,
    }


STORE_COMMANDS = {
    "ioc info": ["info"],
    "ioc keys list": ["keys", "list"],
    "ioc keys issue": ["keys", "issue", "--reader", "wall"],
    "ioc keys revoke": ["keys", "revoke", "1"],
    "ioc reminders list": ["reminders", "list"],
    "ioc reminders issue": ["reminders", "issue", "--unit", "sxd", "--cause", "c", "--asked", "a"],
    "ioc reminders resolve": ["reminders", "resolve", "1", "--how", "by hand"],
    "ioc reminders evaluate": ["reminders", "evaluate"],
    "ioc migrate": ["migrate"],
    "ioc grafana-role": ["grafana-role"],
    "ioc export": ["export", "--feed", "salinity", "--from", "2026-11-20", "--to", "2026-11-21"],
    "ioc rejections replay": ["rejections", "replay", "--feed", "salinity"],
    "ioc rejections list": ["rejections", "list", "--feed", "salinity"],
    "ioc feeds": ["feeds"],
    "ioc worker": ["worker"],
}


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_a_store_that_is_down_is_one_line_naming_it(command: str, tmp_path: Path) -> None:
    done = run_ioc(_env(IOC_OPEN_DATA_DIR=str(tmp_path)), *STORE_COMMANDS[command])
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{command}: cannot reach the store at {NOWHERE} (connection refused): is it running?"
        " make up starts it; IOC_DATABASE_URL says where it is"
    ]


EXAMPLES = str(SCHEMAS_DIR / "feeds/salinity/examples.ndjson")
KAFKA_COMMANDS = {
    "ioc produce": ["produce", "--feed", "salinity", EXAMPLES],
    "ioc topics": ["topics", "ensure"],
    "ioc simulate": ["simulate"],
    "ioc restore": ["restore", "--rewind-only"],
}


@pytest.mark.parametrize("command", KAFKA_COMMANDS)
def test_a_broker_that_refuses_is_said_last_and_nothing_is_left_open(command: str) -> None:
    done = run_ioc(_env(), *KAFKA_COMMANDS[command])
    assert done.returncode == 1
    *logged, said = done.stderr.splitlines()
    assert said.startswith(f"{command}: cannot use Kafka at {NOWHERE} over PLAINTEXT: ")
    assert said.endswith(": is it running? make up starts it; IOC_KAFKA_BOOTSTRAP says where it is")
    # Before it only aiokafka's own log lines; no traceback, no "Unclosed AIOKafkaProducer".
    assert [json.loads(line)["logger"] for line in logged] == ["aiokafka"] * len(logged)


def test_a_file_that_is_not_there_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ndjson"
    done = run_ioc(_env(), "produce", "--feed", "salinity", str(missing))
    assert done.returncode == 1
    assert done.stderr == f"ioc produce: {missing}: No such file or directory\n"


def test_a_backup_without_pgbackrest_configured_is_one_line_saying_what_to_do(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "pgbackrest.conf"
    done = run_ioc(_env(IOC_PGBACKREST_CONFIG=str(missing)), "backup", "--type", "full")
    assert done.returncode == 1
    assert done.stderr.startswith(f"ioc backup: no pgBackRest configuration at {missing} ")
    assert len(done.stderr.splitlines()) == 1


def test_a_schemas_dir_without_feeds_is_one_line(tmp_path: Path) -> None:
    done = run_ioc(_env(IOC_SCHEMAS_DIR=str(tmp_path)), "feed-expected", "--feed", "salinity")
    assert done.returncode == 1
    assert done.stderr == f"ioc feed-expected: no feed definitions under {tmp_path / 'feeds'}\n"


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path: Path) -> None:
    # Far more than a pipe holds: the command is still writing when the reader leaves.
    feed = shutil.copytree(SCHEMAS_DIR / "feeds/salinity", tmp_path / "feeds/salinity")
    examples = (feed / "examples.ndjson").read_text(encoding="utf-8")
    (feed / "examples.ndjson").write_text(examples * 300, encoding="utf-8")
    with subprocess.Popen(
        [sys.executable, "-m", "services.cli", "feed-expected", "--feed", "salinity"],
        cwd=REPO_ROOT,
        env=_env(IOC_SCHEMAS_DIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as reading:
        assert reading.stdout is not None
        assert reading.stderr is not None
        assert reading.stdout.readline().startswith('{"entity": ')
        reading.stdout.close()  # `| head -1`
        stderr = reading.stderr.read()
        assert reading.wait(timeout=60) == 1
    assert stderr == ""


@pytest.mark.parametrize(
    "bug",
    [RuntimeError("a bug"), ConnectionResetError(104, "a socket that is not the store's")],
)
def test_a_bug_keeps_its_traceback(bug: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    def info(args: object) -> None:
        raise bug

    monkeypatch.setattr(cli, "_info", info)
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    with pytest.raises(type(bug)) as raised:
        cli.main(["info"])
    assert raised.value is bug


CONNECTOR = str(SCHEMAS_DIR / "connectors" / "syt-giuong-benh.yaml")
LGSP = {"IOC_LGSP_URL": "https://lgsp.example.vn", "IOC_LGSP_KEY": "bi-mat"}


def test_a_connector_pulled_once_with_the_store_down_is_one_line() -> None:
    done = run_ioc(_env(**LGSP), "connectors", "run", "--once", CONNECTOR)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ioc connectors run: cannot reach the store at {NOWHERE} (connection refused): is it"
        " running? make up starts it; IOC_DATABASE_URL says where it is"
    ]


def test_a_connector_whose_key_is_not_set_is_one_line_naming_file_and_key() -> None:
    done = run_ioc(
        _env(IOC_LGSP_URL=LGSP["IOC_LGSP_URL"]), "connectors", "run", "--once", CONNECTOR
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"ioc connectors run: {CONNECTOR}: headers.X-LGSP-Key: names ${{IOC_LGSP_KEY}}, which is"
        " not set in the environment\n"
    )


def test_no_connector_defined_is_one_line(tmp_path: Path) -> None:
    done = run_ioc(_env(IOC_CONNECTORS_DIR=str(tmp_path)), "connectors", "run")
    assert done.returncode == 1
    assert done.stderr == f"ioc connectors run: no connector definitions (*.yaml) in {tmp_path}\n"


def test_log_lines_at_a_terminal_are_text_and_the_failure_still_one_line() -> None:
    # stderr a terminal (a pseudo-terminal here): aiokafka's lines are read by a person, not
    # parsed, so they are text; IOC_LOG_FORMAT is unset.
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "services.cli", *KAFKA_COMMANDS["ioc produce"]],
        cwd=REPO_ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=follower,
    ) as producing:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            seen += chunk
        assert producing.wait(timeout=60) == 1
    os.close(leader)
    *logged, said = seen.decode().replace("\r\n", "\n").rstrip("\n").splitlines()
    assert said.startswith("ioc produce: cannot use Kafka at 127.0.0.1:1 over PLAINTEXT: ")
    assert logged, "aiokafka says why it could not bootstrap"
    for line in logged:
        assert not line.startswith("{"), line
        assert re.match(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d:\d\d [A-Z]+ aiokafka", line
        )
