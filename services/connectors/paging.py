"""How a pull goes from one page to the next: one object per style, each holding all of its
rule. A department API either links to the next page (``next``), counts pages (``page``), or
answers in one page. Pure: a page's document in, the next request (or None) out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from services.common.paths import value_at


class PagingError(ValueError):
    """The API's paging cannot be followed (a link that is not a URL, a loop); says why."""


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    params: Mapping[str, str]
    number: int  # 1 for the first page of a pull


class Paging(Protocol):
    def first(self, url: str, params: Mapping[str, str]) -> Request: ...

    def following(self, request: Request, document: Any, records: int) -> Request | None:
        """The request for the page after ``request``'s, whose answer was ``document`` with
        ``records`` records; None when it was the last."""
        ...


@dataclass(frozen=True, slots=True)
class SinglePage:
    def first(self, url: str, params: Mapping[str, str]) -> Request:
        return Request(url, params, 1)

    def following(self, request: Request, document: Any, records: int) -> Request | None:
        return None


@dataclass(frozen=True, slots=True)
class NextLink:
    """The page names the next one's URL at a dotted path; none, null or "" ends the pull. The
    link carries the API's own state (a cursor, the ``since`` it was asked), so it is followed
    as given, relative links resolved against the page's URL."""

    path: str

    def first(self, url: str, params: Mapping[str, str]) -> Request:
        return Request(url, params, 1)

    def following(self, request: Request, document: Any, records: int) -> Request | None:
        link = value_at(document, self.path)
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise PagingError(f"{self.path} must be the next page's URL, got {link!r}")
        following = urljoin(request.url, link)
        # The connector's headers (the platform's key) go with every page: never to another
        # scheme, host or port than the page that named it (as redirects are never followed).
        if _origin(following) != _origin(request.url):
            raise PagingError(
                f"{self.path} names a page on another origin ({_origin(following)}): not followed,"
                " the connector's headers would go with it"
            )
        return Request(following, {}, request.number + 1)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}"


@dataclass(frozen=True, slots=True)
class PageNumber:
    """Pages numbered from ``start`` in the query parameter ``param``; a page without records
    ends the pull."""

    param: str
    start: int = 1

    def first(self, url: str, params: Mapping[str, str]) -> Request:
        return Request(url, {**params, self.param: str(self.start)}, 1)

    def following(self, request: Request, document: Any, records: int) -> Request | None:
        if records == 0:
            return None
        page = int(request.params[self.param]) + 1
        return Request(request.url, {**request.params, self.param: str(page)}, request.number + 1)
