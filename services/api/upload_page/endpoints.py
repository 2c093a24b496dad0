"""``/upload``: the page for the people who upload a spreadsheet report, one static page (HTML,
CSS and its script in one file, beside the pages' shared script) like the wall's."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["upload"])
PAGE = (Path(__file__).parent / "page.html").read_bytes()


@router.get("/upload", response_class=HTMLResponse)
async def upload_page() -> HTMLResponse:
    """Choose a feed, download its template, upload the filled file, read the receipt. Open it
    as /upload#key=<the unit's key>: the key stays in the browser."""
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})
