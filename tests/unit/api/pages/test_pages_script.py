"""The IOC's pages load the script they share before their own, and repeat none of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.api.pages.endpoints import PATH, SCRIPT

PAGES = Path(__file__).parents[4] / "services" / "api"
SHARED = f'<script src="{PATH}"></script>\n<script>'
# What only the shared script does: the key taken from the fragment and kept, the language
# kept, escaping, a fetched file handed to the browser.
ITS_OWN = ["location.hash", "history.replaceState", '"&amp;"', '"ioc.lang"', "createObjectURL"]


@pytest.mark.parametrize("page", ["wall", "upload_page", "console"])
def test_a_page_loads_the_shared_script_first_and_repeats_none_of_it(page: str) -> None:
    html = (PAGES / page / "page.html").read_text()
    assert html.count("<script") == 2
    assert SHARED in html
    for fragment in ITS_OWN:
        assert fragment not in html, fragment


def test_the_shared_script_holds_what_the_pages_left_out() -> None:
    script = SCRIPT.decode()
    for fragment in ITS_OWN:
        assert fragment in script, fragment
