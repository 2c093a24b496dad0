"""The departments whose systems are pulled rather than pushing: their APIs as the provincial
platform (LGSP) exposes them, behind a key, for the example connectors of schemas/connectors/.
The simulator plays these feeds into a record log here instead of Kafka, so `make up` shows
them reaching the wall through ``ioc connectors run``, and never twice.

Each API pages in one of the two styles a connector follows: Sở Y tế's bed counts by a link to
the next page, Sở KH&CN's programme tasks by page number as a bare array. Both take
``cap_nhat_tu`` (newer than this event time, in the feed's own format) and a page size."""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.feeds import FeedDefinition
from services.common.intake.normalise import Normaliser
from services.common.paths import holding

KEY_HEADER = "X-LGSP-Key"
KEPT = 20_000  # records a feed's log keeps (the oldest go first)
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Served:
    """One department API: the feed it serves, where, and its paging style."""

    feed: str
    path: str
    style: str  # "linked" or "numbered"


# The departments the simulator serves by API (the example connectors name these paths).
SERVED = (
    Served("hospital-beds", "/lgsp/syt/v1/giuong-benh", "linked"),
    Served("programme-tasks", "/lgsp/skhcn/v1/nhiem-vu", "numbered"),
)


@dataclass
class RecordLog:
    """A served feed's records, oldest first, as the department's system holds them."""

    feed: FeedDefinition
    records: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT))

    def __post_init__(self) -> None:
        self._time_of = Normaliser(self.feed).event_time_of

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def newer_than(self, since: str | None) -> list[dict[str, Any]]:
        if since is None:
            return list(self.records)
        mark = self._time_of(holding(self.feed.time.field, since))
        if mark is None:
            raise ValueError(f"cap_nhat_tu: {since!r} is not a time as this API writes them")
        return [r for r in self.records if (self._time_of(r) or mark) > mark]


def department_app(logs: Mapping[str, RecordLog], key: str) -> Starlette:
    routes = [
        Route(served.path, _endpoint(served, logs[served.feed], key))
        for served in SERVED
        if served.feed in logs
    ]
    return Starlette(routes=routes)


def _endpoint(served: Served, log: RecordLog, key: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        given = request.headers.get(KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), key.encode()):
            return JSONResponse({"loi": "khóa LGSP không hợp lệ"}, status_code=401)
        query = request.query_params
        try:
            records = log.newer_than(query.get("cap_nhat_tu"))
            size = int(query.get("so_ban_ghi", DEFAULT_PAGE_SIZE))
            if served.style == "linked":
                start = int(query.get("vi_tri", "0"))
            else:
                start = (int(query.get("trang", "1")) - 1) * size
        except ValueError as error:
            return JSONResponse({"loi": str(error)}, status_code=400)
        page = records[start : start + size]
        if served.style == "numbered":
            return JSONResponse(page)
        following = None
        if start + size < len(records):
            following = served.path + "?" + urlencode({**query, "vi_tri": start + size})
        return JSONResponse({"du_lieu": page, "phan_trang": {"trang_sau": following}})

    return endpoint
