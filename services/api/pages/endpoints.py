"""``GET /static/pages.js``: the script the IOC's pages (``/wall``, ``/upload``, ``/console``)
share, so what they do alike (the key kept, the language, escaping) has one home."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter(tags=["pages"])
SCRIPT = (Path(__file__).parent / "pages.js").read_bytes()
PATH = "/static/pages.js"


@router.get(PATH, response_class=Response, include_in_schema=False)
async def pages_script() -> Response:
    return Response(
        SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache"},  # a page and its script change together
    )
