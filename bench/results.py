"""Where every benchmark leaves its figures (``bench/results/<name>.json``, not committed) for
``bench/report.py`` to write BENCHMARKS.md from."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common.settings import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"


def write_figures(name: str, figures: dict[str, Any]) -> Path:
    """Prints the figures and keeps them as ``<name>.json``, with when they were measured."""
    figures = {**figures, "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M}"}
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"bench: figures written to {out.relative_to(REPO_ROOT)}", file=sys.stderr, flush=True)
    return out


def read_figures(name: str) -> dict[str, Any] | None:
    """The figures kept as ``<name>.json``; ``measured_at`` from the file's time where an older
    bench did not write it (the results are not committed: the file is the bench's own)."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    figures: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    figures.setdefault("measured_at", f"{written:%Y-%m-%d %H:%M}")
    return figures
