"""deploy/stack.sh as an operator reads it: `make status` says the simulator was left out on
purpose (IOC_SIMULATE=0), not that it stopped."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

STACK = Path(__file__).parents[2] / "deploy" / "stack.sh"


def stack(directory: Path, *args: str) -> str:
    env = {**os.environ, "IOC_STACK_DIR": str(directory)}
    done = subprocess.run(
        ["bash", str(STACK), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout + done.stderr


def test_status_says_the_simulator_was_left_out_until_it_is_started(tmp_path: Path) -> None:
    assert "simulator stopped" in stack(tmp_path, "status")
    stack(tmp_path, "leave-out", "simulator")
    assert "simulator left out (IOC_SIMULATE=0 at make up" in stack(tmp_path, "status")
