"""The failpoint's arming: only its own name, only a positive count."""

from __future__ import annotations

import pytest

from services.ingest.failpoints import Failpoint


def test_a_failpoint_is_disarmed_unless_named() -> None:
    for spec in ("", "before-write:1"):
        point = Failpoint("after-write", {"IOC_FAILPOINT": spec})
        point.reach()  # would kill this test process if armed
        assert point.remaining is None


def test_an_armed_failpoint_counts_down_to_its_passage() -> None:
    point = Failpoint("after-write", {"IOC_FAILPOINT": "after-write:3"})
    point.reach()
    point.reach()
    assert point.remaining == 1  # the next passage is the fatal one (tested in test_faults.py)


@pytest.mark.parametrize("spec", ["after-write", "after-write:0", "after-write:x"])
def test_a_malformed_failpoint_is_a_clear_error(spec: str) -> None:
    with pytest.raises(ValueError, match="expected after-write:N"):
        Failpoint("after-write", {"IOC_FAILPOINT": spec})
