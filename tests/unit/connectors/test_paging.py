"""Paging, one object per style: each says the next request from a page, or that it was the
last; a test runs over every style."""

from __future__ import annotations

from typing import Any

import pytest

from services.connectors.paging import (
    NextLink,
    PageNumber,
    Paging,
    PagingError,
    Request,
    SinglePage,
)

URL = "https://lgsp.example.vn/syt/giuong-benh"
STYLES: list[Paging] = [SinglePage(), NextLink("links.next"), PageNumber("trang", 1)]


@pytest.mark.parametrize("paging", STYLES, ids=lambda p: type(p).__name__)
def test_every_style_ends_on_a_page_without_records_or_link(paging: Paging) -> None:
    first = paging.first(URL, {"so_ban_ghi": "50"})
    assert first.number == 1
    assert first.params["so_ban_ghi"] == "50"
    assert paging.following(first, {"links": {"next": None}, "items": []}, 0) is None


def test_a_next_link_is_followed_as_given_relative_to_the_page() -> None:
    paging = NextLink("links.next")
    first = paging.first(URL, {"tu": "2026-11-25"})
    following = paging.following(first, {"links": {"next": "?vi_tri=50&tu=x"}}, 50)
    assert following == Request(URL + "?vi_tri=50&tu=x", {}, 2)
    absolute = paging.following(first, {"links": {"next": "https://LGSP.example.vn/p2"}}, 50)
    assert absolute == Request("https://LGSP.example.vn/p2", {}, 2)


@pytest.mark.parametrize(
    "link",
    ["https://other.vn/p2", "http://lgsp.example.vn/p2", "https://lgsp.example.vn:8443/p2"],
)
def test_a_next_link_to_another_origin_is_not_followed(link: str) -> None:
    # The connector's key goes with every page: not to another host, nor down to http.
    paging = NextLink("links.next")
    with pytest.raises(PagingError, match="names a page on another origin"):
        paging.following(paging.first(URL, {}), {"links": {"next": link}}, 50)


@pytest.mark.parametrize("link", [None, ""])
def test_no_link_or_an_empty_one_is_the_last_page(link: Any) -> None:
    paging = NextLink("links.next")
    assert paging.following(paging.first(URL, {}), {"links": {"next": link}}, 50) is None
    assert paging.following(paging.first(URL, {}), {"items": []}, 50) is None


def test_a_link_that_is_not_a_url_is_said() -> None:
    paging = NextLink("links.next")
    with pytest.raises(PagingError, match=r"links\.next must be the next page.s URL, got 2"):
        paging.following(paging.first(URL, {}), {"links": {"next": 2}}, 50)


def test_page_numbers_count_from_start_and_keep_the_other_params() -> None:
    paging = PageNumber("trang", 0)
    first = paging.first(URL, {"tu": "x"})
    assert first == Request(URL, {"tu": "x", "trang": "0"}, 1)
    second = paging.following(first, [{}], 1)
    assert second == Request(URL, {"tu": "x", "trang": "1"}, 2)
