"""``/console``: the IOC operators' page, one static file like the wall's (HTML, CSS and script
in one, beside the pages' shared script; nothing fetched from elsewhere): the register, the
ranking by kind with each unit's 30 days, the deliveries that failed. It does what an
operator's key may (services/api/access.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["console"])
PAGE = (Path(__file__).parent / "page.html").read_bytes()


@router.get("/console", response_class=HTMLResponse)
async def console() -> HTMLResponse:
    """The operators' console. Open it as /console#key=<operator key>: the key stays in the
    browser."""
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})
