"""``/v1/quality``: per agency, đúng, đủ, sạch, sống, and the feeds that lag."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.api.caching import conditional
from services.api.dependencies import Caller, Connection, State
from services.api.quality.schemas import QualityReport
from services.api.quality.service import quality_report, unknown_units
from services.api.schemas import error_responses

router = APIRouter(tags=["feeds"], responses=error_responses(401))


@router.get(
    "/v1/quality",
    response_model=QualityReport,
    responses={304: {"description": "Unchanged since the ETag"}},
)
async def quality(
    request: Request, caller: Caller, connection: Connection, state: State
) -> Response:
    """Per agency: correct, sufficient, clean and live (đúng, đủ, sạch, sống) over the last
    24 hours, each agency's feeds scored, and the feeds that lag."""
    report = await quality_report(connection, state.feeds, state.clock())
    report.unknown_units = await unknown_units(connection, state.feeds, state.units)
    return conditional(request, report)
