"""One page from a department's API: a timeout on every request, transient failures (a timeout,
a dropped connection, 429, 5xx) retried with exponential backoff and full jitter, a
``Retry-After`` honoured, and 401/403 said to be the credentials, never retried."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from services.connectors.failures import CredentialsRefused, PageUnreadable, PullFailed

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # the first try included
    base_s: float = 1.0
    cap_s: float = 60.0  # the longest backoff between two attempts
    retry_after_cap_s: float = 300.0  # a Retry-After asking longer fails the pull instead
    max_page_bytes: int = 64 * 1024 * 1024  # a page is held in memory whole: bounded

    def backoff(self, retry: int, draw: Callable[[], float]) -> float:
        """Full jitter (AWS's "Exponential Backoff And Jitter"): anywhere up to the doubling
        bound, so connectors failing together do not retry together."""
        bound: float = min(self.cap_s, self.base_s * 2.0**retry)
        return draw() * bound


@dataclass(frozen=True, slots=True)
class _Transient:
    problem: str  # said when the attempts are spent
    wait: float | None  # as the API asked (Retry-After), else the backoff's


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # as answered, the query included
    body: bytes


class PageFetcher:
    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: RetryPolicy,
        *,
        now: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.policy = policy
        self.now = now
        self.sleep = sleep
        self.draw = draw

    async def get(
        self,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        *,
        timeout_s: float,
    ) -> Page:
        """The page, or PullFailed once the attempts are spent (CredentialsRefused at once)."""
        problem = "never asked"  # the policy allows at least one attempt
        for retry in range(self.policy.attempts):
            try:
                # No params at all, not empty ones: httpx would drop the URL's own query (a next
                # link's cursor) for them.
                async with self.client.stream(
                    "GET",
                    url,
                    params=dict(params) or None,
                    headers=dict(headers),
                    timeout=timeout_s,
                ) as response:
                    answer = await self._answer(response)
            except httpx.TimeoutException:
                answer = _Transient(f"no answer within {timeout_s:g} s", None)
            except httpx.TransportError as error:
                answer = _Transient(f"cannot connect ({_said(error)})", None)
            if isinstance(answer, Page):
                return answer
            problem = answer.problem
            if retry == self.policy.attempts - 1:
                break
            wait = answer.wait
            await self.sleep(wait if wait is not None else self.policy.backoff(retry, self.draw))
        raise PullFailed(f"GET {url}: {problem} (after {self.policy.attempts} attempts)")

    async def _answer(self, response: httpx.Response) -> Page | _Transient:
        """The page the response holds, or what makes it worth another try; else it raises."""
        shown = str(response.url)
        status = f"{response.status_code} {response.reason_phrase}"
        if response.status_code in (401, 403):
            raise CredentialsRefused(
                f"GET {shown}: {status}: the API refused the credentials (check the key its"
                " headers name)"
            )
        if response.is_redirect:
            # Not followed: the key would go wherever it points (httpx keeps custom headers
            # across hosts).
            raise PullFailed(
                f"GET {shown}: {status} to {response.headers.get('location')}: put that URL"
                " in the definition"
            )
        if response.status_code in TRANSIENT_STATUSES:
            wait = self._retry_after(response.headers.get("retry-after"))
            if wait is not None and wait > self.policy.retry_after_cap_s:
                raise PullFailed(
                    f"GET {shown}: {status}, Retry-After {wait:.0f} s is past the"
                    f" {self.policy.retry_after_cap_s:.0f} s a pull waits"
                )
            return _Transient(status, wait)
        if not response.is_success:
            raise PullFailed(f"GET {shown}: {status}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self.policy.max_page_bytes:
                raise PageUnreadable(
                    f"GET {shown}: the page is larger than {self.policy.max_page_bytes:,} bytes"
                    " (IOC_CONNECTOR_MAX_PAGE_BYTES): ask for smaller pages in `params`"
                )
        return Page(shown, bytes(body))

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds to wait as the answer asks: a number of seconds or an HTTP date."""
        if value is None:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # unreadable: the backoff decides
        return max((when - self.now()).total_seconds(), 0.0)


def _said(error: Exception) -> str:
    return str(error) or type(error).__name__
