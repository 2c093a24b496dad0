"""Where every benchmark leaves its figures (``bench/results/<name>.json``, not committed) for
``bench/report.py`` to write BENCHMARKS.md from."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from services.common.settings import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"


def write_figures(name: str, figures: dict[str, Any]) -> Path:
    """Prints the figures and keeps them as ``<name>.json``."""
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"bench: figures written to {out.relative_to(REPO_ROOT)}", file=sys.stderr, flush=True)
    return out


def read_figures(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
