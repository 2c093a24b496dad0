"""The cache of found keys, on a clock the test moves."""

from __future__ import annotations

from services.api.principals import PrincipalCache
from services.common.keys import Principal

READER = Principal(key_id=1, kind="reader", subject="wall")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_found_key_is_remembered_until_its_time_is_up() -> None:
    clock = _Clock()
    cache = PrincipalCache(2.0, clock=clock)
    assert cache.get("h") is None
    cache.put("h", READER)
    clock.now += 1.9
    assert cache.get("h") == READER
    clock.now += 0.2  # past the 2 s: asked of the store again, where a revocation shows
    assert cache.get("h") is None


def test_the_oldest_entries_go_first_when_full() -> None:
    cache = PrincipalCache(60.0, max_entries=2, clock=_Clock())
    for key_hash in ("a", "b", "c"):
        cache.put(key_hash, READER)
    assert [cache.get(h) for h in ("a", "b", "c")] == [None, READER, READER]


def test_no_time_to_live_remembers_nothing() -> None:
    cache = PrincipalCache(0.0, clock=_Clock())
    cache.put("h", READER)
    assert cache.get("h") is None
