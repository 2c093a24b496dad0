"""BENCHMARKS.md keeps a section's last figures when its bench was not run again: the results
behind them are not committed, so a fresh clone running one bench must not erase the others."""

from __future__ import annotations

from pathlib import Path

from bench.report import previous_sections

WRITTEN = """# Benchmarks

Written 2026-11-30 on vm.

## HTTP push

Measured 2026-11-30 10:37 UTC.

| figure | value |
|---|---:|
| messages/s accepted | 26,658 |


## API for the wall

Measured 2026-11-30 10:39 UTC.
| p99 at that load (ms) | 1.2 |
"""


def test_each_measured_section_is_kept_whole_under_its_heading(tmp_path: Path) -> None:
    page = tmp_path / "BENCHMARKS.md"
    page.write_text(WRITTEN, encoding="utf-8")
    sections = previous_sections(page)
    assert list(sections) == ["## HTTP push", "## API for the wall"]
    assert sections["## HTTP push"] == [
        "",
        "## HTTP push",
        "",
        "Measured 2026-11-30 10:37 UTC.",
        "",
        "| figure | value |",
        "|---|---:|",
        "| messages/s accepted | 26,658 |",
    ]
    assert sections["## API for the wall"][-1] == "| p99 at that load (ms) | 1.2 |"


def test_a_first_run_keeps_nothing(tmp_path: Path) -> None:
    assert previous_sections(tmp_path / "BENCHMARKS.md") == {}
