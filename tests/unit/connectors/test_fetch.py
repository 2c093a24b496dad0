"""Fetching a page: transient failures retried with jittered exponential backoff or as
Retry-After asks, 401/403 said to be the credentials at once, other errors not retried. The
API is httpx's in-memory transport; the waits are recorded, not slept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from services.connectors.failures import CredentialsRefused, PageUnreadable, PullFailed
from services.connectors.fetch import PageFetcher, RetryPolicy

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
URL = "https://lgsp.example.vn/syt"


def _fetcher(
    answers: list[httpx.Response | Exception], policy: RetryPolicy | None = None
) -> tuple[PageFetcher, list[float], list[httpx.Request]]:
    waits: list[float] = []
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        given = answers.pop(0)
        if isinstance(given, Exception):
            raise given
        return given

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    fetcher = PageFetcher(
        client, policy or RetryPolicy(), now=lambda: NOW, sleep=sleep, draw=lambda: 0.5
    )
    return fetcher, waits, asked


def _get(fetcher: PageFetcher, params: dict[str, str] | None = None) -> object:
    return asyncio.run(fetcher.get(URL, params or {}, {"X-Key": "bi-mat"}, timeout_s=5))


def test_transient_failures_are_retried_with_doubling_jittered_waits() -> None:
    fetcher, waits, asked = _fetcher(
        [
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json=[1]),
        ]
    )
    page = _get(fetcher)
    assert page.body == b"[1]"  # type: ignore[attr-defined]
    assert waits == [0.5, 1.0, 2.0]  # half of 1, 2, 4 s: the draw is 0.5
    assert all(request.headers["X-Key"] == "bi-mat" for request in asked)


def test_the_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=10, base_s=1, cap_s=5)
    assert [policy.backoff(n, lambda: 1.0) for n in range(5)] == [1, 2, 4, 5, 5]


@pytest.mark.parametrize(
    ("retry_after", "wait"), [("7", 7.0), ("Thu, 26 Nov 2026 03:00:30 GMT", 30.0)]
)
def test_retry_after_is_honoured_in_seconds_or_as_a_date(retry_after: str, wait: float) -> None:
    fetcher, waits, _ = _fetcher(
        [httpx.Response(429, headers={"Retry-After": retry_after}), httpx.Response(200, json=[])]
    )
    _get(fetcher)
    assert waits == [wait]


def test_a_retry_after_past_the_cap_fails_the_pull_instead_of_waiting() -> None:
    fetcher, waits, _ = _fetcher([httpx.Response(503, headers={"Retry-After": "3600"})])
    with pytest.raises(PullFailed, match="Retry-After 3600 s is past the 300 s a pull waits"):
        _get(fetcher)
    assert waits == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_the_credentials_and_is_not_retried(status: int) -> None:
    fetcher, waits, asked = _fetcher([httpx.Response(status)])
    with pytest.raises(CredentialsRefused, match="refused the credentials") as refused:
        _get(fetcher)
    assert len(asked) == 1
    assert waits == []
    assert "bi-mat" not in str(refused.value)


def test_a_client_error_is_not_retried() -> None:
    fetcher, _, asked = _fetcher([httpx.Response(404)])
    with pytest.raises(PullFailed, match=f"GET {URL}: 404 Not Found"):
        _get(fetcher)
    assert len(asked) == 1


def test_the_attempts_spent_say_the_last_problem() -> None:
    fetcher, waits, asked = _fetcher([httpx.Response(502)] * 3, RetryPolicy(attempts=3))
    with pytest.raises(PullFailed, match=r"502 Bad Gateway \(after 3 attempts\)"):
        _get(fetcher)
    assert len(asked) == 3
    assert len(waits) == 2  # no wait after the last


def test_params_are_added_and_a_link_keeps_its_own_query() -> None:
    fetcher, _, asked = _fetcher([httpx.Response(200, json=[])] * 2)
    asyncio.run(fetcher.get(URL + "?vi_tri=50", {}, {}, timeout_s=5))
    asyncio.run(fetcher.get(URL, {"trang": "2"}, {}, timeout_s=5))
    assert [str(r.url) for r in asked] == [URL + "?vi_tri=50", URL + "?trang=2"]


def test_a_redirect_is_not_followed_with_the_key() -> None:
    moved = httpx.Response(301, headers={"Location": "https://elsewhere.example.com/syt"})
    fetcher, _, asked = _fetcher([moved])
    with pytest.raises(
        PullFailed, match=r"301 Moved Permanently to https://elsewhere\.example\.com"
    ):
        _get(fetcher)
    assert len(asked) == 1


def test_a_page_past_the_size_cap_fails_the_pull_unread() -> None:
    fetcher, _, _ = _fetcher([httpx.Response(200, content=b"[" + b"1," * 600 + b"1]")])
    fetcher.policy = RetryPolicy(max_page_bytes=1000)
    with pytest.raises(PageUnreadable, match="larger than 1,000 bytes"):
        _get(fetcher)
