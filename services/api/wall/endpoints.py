"""``/wall``: the IOC wall display, one static page (HTML, CSS and its script in one file), with
the script the IOC's pages share (``GET /static/pages.js``, ``services/api/pages/``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["wall"])
PAGE = (Path(__file__).parent / "page.html").read_bytes()


@router.get("/wall", response_class=HTMLResponse)
async def wall() -> HTMLResponse:
    """The wall display. Open it as /wall#key=<reader key>: the key stays in the browser."""
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})
