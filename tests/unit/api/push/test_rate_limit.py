"""The token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from services.api.push.rate_limit import RateLimiter, TooManyRequests


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_served_then_refused_until_the_bucket_refills() -> None:
    clock = _Clock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3.0, clock=clock)
    for _ in range(3):
        limiter.take(key_id=1)
    with pytest.raises(TooManyRequests) as refused:
        limiter.take(key_id=1)
    assert refused.value.headers == {"Retry-After": "1"}
    clock.now += 0.5  # one token back at 2 a second
    limiter.take(key_id=1)
    with pytest.raises(TooManyRequests):
        limiter.take(key_id=1)


def test_one_keys_flood_leaves_another_keys_bucket_full() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2.0, clock=_Clock())
    limiter.take(key_id=1)
    limiter.take(key_id=1)
    with pytest.raises(TooManyRequests):
        limiter.take(key_id=1)
    limiter.take(key_id=2)
    limiter.take(key_id=2)


def test_the_wait_told_is_whole_seconds_until_a_token() -> None:
    limiter = RateLimiter(rate_per_s=0.25, burst=1.0, clock=_Clock())
    limiter.take(key_id=7)
    with pytest.raises(TooManyRequests) as refused:
        limiter.take(key_id=7)
    assert refused.value.headers == {"Retry-After": "4"}
