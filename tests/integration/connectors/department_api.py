"""A department's REST API, as the provincial platform (LGSP) exposes one, for the connectors'
tests: a key header, paging by next link (``/tasks/linked``) and by page number
(``/tasks/numbered``, a bare array), an incremental ``cap_nhat_tu``, and faults a test asks for
a given page (a transient 503, a slow answer, a page that is not JSON)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.integration.processes import free_port

KEY = "khoa-bi-mat-cua-so"  # the key the platform issued: never in a definition or a log
HEADER = "X-LGSP-Key"
PAGE_SIZE = 20
LOCAL = timezone(timedelta(hours=7))


@dataclass
class DepartmentApi:
    """The records it serves (oldest first), what it was asked, and faults still to play."""

    records: list[dict[str, Any]]
    faults: dict[tuple[str, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    asked: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    served: Counter[tuple[str, int]] = field(default_factory=Counter)
    base_url: str = ""

    def fault(self, style: str, page: int, *kinds: str) -> None:
        """``kinds`` played by the next requests of that page, one each: "503", "slow", "html"."""
        self.faults[(style, page)].extend(kinds)

    def _since(self, request: web.Request) -> list[dict[str, Any]]:
        since = request.query.get("cap_nhat_tu")
        if since is None:
            return self.records
        after = datetime.fromisoformat(since)
        return [r for r in self.records if datetime.fromisoformat(r["cap_nhat_luc"]) > after]

    async def _play(self, style: str, page: int) -> web.Response | None:
        pending = self.faults.get((style, page))
        if not pending:
            return None
        kind = pending.pop(0)
        if kind == "503":
            return web.Response(status=503, text="bảo trì", headers={"Retry-After": "1"})
        if kind == "slow":
            await asyncio.sleep(3)  # past the definition's timeout: the client has left
            return web.Response(text="too late")
        if kind == "html":
            return web.Response(text="<html><body>Lỗi hệ thống</body></html>")
        raise AssertionError(f"unknown fault {kind}")

    def _refused(self, request: web.Request) -> web.Response | None:
        self.asked.append((request.path, dict(request.query)))
        if request.headers.get(HEADER) != KEY:
            return web.json_response({"error": "khóa không hợp lệ"}, status=401)
        return None

    async def linked(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        records = self._since(request)
        start = int(request.query.get("cursor", "0"))
        page = start // PAGE_SIZE + 1
        fault = await self._play("linked", page)
        if fault is not None:
            return fault
        self.served[("linked", page)] += 1
        chunk = records[start : start + PAGE_SIZE]
        following = start + PAGE_SIZE
        link = None
        if following < len(records):
            query = f"cursor={following}"
            if "cap_nhat_tu" in request.query:
                query += f"&cap_nhat_tu={request.query['cap_nhat_tu']}"
            link = f"/tasks/linked?{query}".replace("+", "%2B")
        return web.json_response({"data": {"items": chunk}, "links": {"next": link}})

    async def numbered(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        page = int(request.query["trang"])
        fault = await self._play("numbered", page)
        if fault is not None:
            return fault
        self.served[("numbered", page)] += 1
        records = self._since(request)
        return web.json_response(records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])

    def definition(self, folder: Path, style: str, **extra: Any) -> Path:
        """A connector file for this API, its key named as ${IOC_TEST_DEPT_KEY}."""
        body: dict[str, Any] = {
            "feed": "programme-tasks",
            "headers": {HEADER: "${IOC_TEST_DEPT_KEY}"},
            "every": "15m",
            "timeout": 1,
            "since": {"param": "cap_nhat_tu", "field": "cap_nhat_luc"},
        }
        if style == "linked":
            body |= {"url": f"{self.base_url}/tasks/linked", "records": "data.items"}
            body["next"] = "links.next"
        else:
            body |= {"url": f"{self.base_url}/tasks/numbered", "records": ""}
            body["page"] = {"param": "trang", "start": 1}
        body |= extra
        path = folder / f"sotc-{style}.yaml"
        path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
        return path


@contextlib.asynccontextmanager
async def serving(records: list[dict[str, Any]]) -> AsyncIterator[DepartmentApi]:
    api = DepartmentApi(records)
    app = web.Application()
    app.router.add_get("/tasks/linked", api.linked)
    app.router.add_get("/tasks/numbered", api.numbered)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    api.base_url = f"http://127.0.0.1:{port}"
    try:
        yield api
    finally:
        await runner.cleanup()


def programme_tasks(
    examples: Path, expected: Path, first: datetime
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    """The feed's examples, task i updated ``first`` + 10 minutes per task (local time), with the
    status the store must hold for each (task, UTC time)."""
    records, statuses = [], {}
    lines = zip(
        examples.read_text(encoding="utf-8").splitlines(),
        expected.read_text(encoding="utf-8").splitlines(),
        strict=True,
    )
    for index, (line, canonical_line) in enumerate(lines):
        record, canonical = json.loads(line), json.loads(canonical_line)
        at = first + timedelta(minutes=10 * index)
        record["cap_nhat_luc"] = at.astimezone(LOCAL).isoformat()
        records.append(record)
        statuses[(canonical["entity"], at.isoformat())] = canonical["observations"]["status"]
    return records, statuses
