"""The deployment and capacity pages cite BENCHMARKS.md for what `make bench` measures (a
worker's or the API's rows a second, response times) instead of copying the figures: copies went
stale and disagreed with it and with each other."""

from __future__ import annotations

import re

import pytest

from services.common.settings import REPO_ROOT

# A measured rate (thousands of rows or messages a second) or a response time in milliseconds.
MEASURED = re.compile(
    r"\b[0-9]{1,3}(?:,[0-9]{3})+ (?:[a-z]+ )?(?:rows|messages) a second"
    r"|\b[0-9]+(?:\.[0-9]+)? ?ms\b"
)


@pytest.mark.parametrize("page", ["docs/deploy.md", "docs/capacity.md"])
def test_the_page_cites_measured_figures_instead_of_copying_them(page: str) -> None:
    text = " ".join((REPO_ROOT / page).read_text(encoding="utf-8").split())
    assert MEASURED.findall(text) == []
    assert "BENCHMARKS.md" in text


def test_the_pattern_finds_what_the_pages_said_before() -> None:
    before = (
        "writes about 34,000 to 37,000 canonical rows a second; a p99 of 2 ms; takes 25,000 "
        "pushed messages a second; a 1,000-observation page in 14 to 16 ms"
    )
    assert MEASURED.findall(before) == [
        "37,000 canonical rows a second",
        "2 ms",
        "25,000 pushed messages a second",
        "16 ms",
    ]
