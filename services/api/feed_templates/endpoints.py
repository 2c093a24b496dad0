"""``GET /v1/feeds/{feed}/template.xlsx``: the spreadsheet a unit fills and uploads, made from
the feed's definition (``workbook.py``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from services.api.access import require_definition
from services.api.dependencies import Caller, Feed, State
from services.api.feed_templates.workbook import MEDIA_TYPE, template
from services.api.schemas import error_responses
from services.api.uploads.wording import language_of
from services.common.feeds import FeedDefinition

router = APIRouter(tags=["uploads"], responses=error_responses(401, 403, 404))


@router.get(
    "/v1/feeds/{feed}/template.xlsx",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "The feed's template"}},
)
async def feed_template(
    feed: Feed,
    caller: Caller,
    state: State,
    accept_language: Annotated[
        str | None, Header(description="`en` for English instructions; Vietnamese otherwise")
    ] = None,
) -> Response:
    """The feed's spreadsheet template: one header row of Vietnamese titles (each field's
    dotted path in its comment), a drop-down list where the field is an enumeration, number
    formats as the upload reads them, the feed's first example as row 2, and a sheet of
    instructions (units, bounds, cadence, deadline; in English with ``Accept-Language: en``)."""
    require_definition(caller, feed)
    lang = language_of(accept_language)
    unit = state.units.by_code.get(feed.agency)
    name = None if unit is None else unit.name if lang == "vi" else unit.name_en
    body = template(feed, first_example(feed), lang, name)
    return Response(
        body,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="bieu-mau-{feed.feed}.xlsx"',
            "Cache-Control": "no-cache",
        },
    )


def first_example(feed: FeedDefinition) -> dict[str, Any]:
    with feed.examples_path.open(encoding="utf-8") as examples:
        example: dict[str, Any] = json.loads(examples.readline())
    return example
