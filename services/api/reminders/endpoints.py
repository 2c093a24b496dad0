"""``/v1/reminders``: the register, each reminder with its life and deliveries, its notice as
HTML and PDF, and a unit's acknowledgement. A unit's key sees and acknowledges only its own;
another unit's reminder is not found (404), never forbidden, so ids reveal nothing. Where a
delivery went and why it failed only the key of the unit it reached sees."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response

from services.api.access import delivery_targets_shown, require_acknowledge, visible_units
from services.api.dependencies import AppState, Caller, Connection, State
from services.api.errors import Conflict, NotFound
from services.api.reminders import repository
from services.api.reminders.notice import Notice, render_html, render_pdf
from services.api.reminders.schemas import ReminderList, ReminderOut
from services.api.schemas import error_responses
from services.common.keys import Principal

router = APIRouter(tags=["reminders"], responses=error_responses(401, 422))
ReminderId = Annotated[int, FastPath(ge=1, le=2**63 - 1, description="The reminder's id")]


@router.get("/v1/reminders", response_model=ReminderList)
async def list_reminders(
    caller: Caller,
    connection: Connection,
    state: State,
    unit: str | None = None,
    status: Literal["open", "acknowledged", "escalated", "resolved", "unresolved"] | None = None,
    rule: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReminderList:
    """Newest first; ``status=unresolved``: open, acknowledged or escalated."""
    visible = visible_units(caller)
    rows = await repository.reminders(
        connection,
        unit=unit,
        units=sorted(visible) if visible is not None else None,
        status=status,
        rule=rule,
        limit=limit,
    )
    shown = delivery_targets_shown(caller, state.reminding.units)
    return ReminderList(reminders=[ReminderOut.of(row, shown) for row in rows])


@router.get(
    "/v1/reminders/{reminder_id}", response_model=ReminderOut, responses=error_responses(404)
)
async def get_reminder(
    reminder_id: ReminderId, caller: Caller, connection: Connection, state: State
) -> ReminderOut:
    row = await _visible(connection, caller, reminder_id)
    return ReminderOut.of(row, delivery_targets_shown(caller, state.reminding.units))


@router.post(
    "/v1/reminders/{reminder_id}/ack",
    response_model=ReminderOut,
    responses=error_responses(403, 404, 409),
)
async def acknowledge(
    reminder_id: ReminderId, caller: Caller, connection: Connection, state: State
) -> ReminderOut:
    """The unit says it has the reminder in hand: escalation stops; the reminder stays until
    its cause clears (or an operator resolves it)."""
    row = await _visible(connection, caller, reminder_id)
    require_acknowledge(caller, row["unit"])
    async with connection.transaction():
        done = await repository.acknowledge(
            connection, reminder_id, caller.subject, f"key {caller.key_id}", state.clock()
        )
    if not done and row["status"] == "resolved":
        raise Conflict(f"reminder {reminder_id} is already resolved")
    found = await repository.reminder(connection, reminder_id)
    assert found is not None
    return ReminderOut.of(found, delivery_targets_shown(caller, state.reminding.units))


@router.get(
    "/v1/reminders/{reminder_id}/notice.html",
    response_class=Response,
    responses={**error_responses(404), 200: {"content": {"text/html": {}}}},
)
async def notice_html(
    reminder_id: ReminderId, caller: Caller, connection: Connection, state: State
) -> HTMLResponse:
    """The phiếu nhắc việc, as a page to read or print."""
    return HTMLResponse(render_html(await _notice(connection, caller, reminder_id, state)))


@router.get(
    "/v1/reminders/{reminder_id}/notice.pdf",
    response_class=Response,
    responses={**error_responses(404), 200: {"content": {"application/pdf": {}}}},
)
async def notice_pdf(
    reminder_id: ReminderId, caller: Caller, connection: Connection, state: State
) -> Response:
    """The phiếu nhắc việc as PDF, as attached to its e-mail."""
    notice = await _notice(connection, caller, reminder_id, state)
    filename = f"phieu-nhac-viec-{reminder_id}.pdf"
    return Response(
        render_pdf(notice, state.reminding.settings.pdf_font),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


async def _notice(connection: Any, caller: Principal, reminder_id: int, state: AppState) -> Notice:
    row = await _visible(connection, caller, reminder_id)
    return Notice.of(row, state.reminding.units, state.reminding.settings.issuing_body)


async def _visible(connection: Any, caller: Principal, reminder_id: int) -> dict[str, Any]:
    visible = visible_units(caller)
    row = await repository.reminder(
        connection, reminder_id, sorted(visible) if visible is not None else None
    )
    if row is None:
        raise NotFound(f"no reminder {reminder_id}")
    return row
