"""Streams held per key: the cap's next one is a 429 with Retry-After, each key counted apart,
and a stream let go (once, however often) frees its slot."""

from __future__ import annotations

import pytest

from services.api.push.rate_limit import TooManyRequests
from services.api.stream.holds import StreamHolds


def test_a_key_holds_at_most_its_cap_and_a_release_frees_one() -> None:
    holds = StreamHolds(per_key=2)
    first = holds.hold(7)
    holds.hold(7)
    with pytest.raises(TooManyRequests) as refused:
        holds.hold(7)
    assert refused.value.status_code == 429
    assert refused.value.headers is not None
    assert int(refused.value.headers["Retry-After"]) > 0
    assert "IOC_STREAM_MAX_PER_KEY" in refused.value.detail
    holds.hold(8)  # another key is not counted with it
    first()
    first()  # a second release of the same hold frees nothing more
    assert holds.held(7) == 1
    holds.hold(7)
    with pytest.raises(TooManyRequests):
        holds.hold(7)
