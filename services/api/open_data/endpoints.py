"""``/open-data/``: the files ``ioc export`` wrote, read-only and without a key, for the public
feeds only (a feed made private since is no longer served)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from services.api.dependencies import State
from services.api.errors import NotFound
from services.api.schemas import error_responses
from services.open_data.export import CATALOGUE

router = APIRouter(tags=["open data"])

_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.(csv|parquet|json)$")
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
}


@router.get("/open-data/catalogue.json", summary="Every exported day of the public feeds")
async def catalogue(state: State) -> dict[str, Any]:
    path = state.settings.common.open_data_dir / CATALOGUE
    if not path.is_file():
        return {"datasets": []}
    datasets = json.loads(path.read_text(encoding="utf-8"))["datasets"]
    public = {name for name, feed in state.feeds.items() if feed.public}
    return {"datasets": [d for d in datasets if d["feed"] in public]}


@router.get(
    "/open-data/{feed}/{name}",
    summary="One exported day of a public feed: CSV, Parquet or its catalogue entry",
    response_class=FileResponse,
    responses={
        200: {"content": {media: {} for media in _MEDIA.values()}},
        **error_responses(404),
    },
)
async def exported_file(feed: str, name: str, state: State) -> FileResponse:
    definition = state.feeds.get(feed)
    match = _FILE.match(name)
    path = state.settings.common.open_data_dir / feed / name
    if definition is None or not definition.public or match is None or not path.is_file():
        raise NotFound(f"no open-data file {feed}/{name}: see /open-data/catalogue.json")
    return FileResponse(path, media_type=_MEDIA[match[1]])
