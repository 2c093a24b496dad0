"""``/v1/reminders``: the register, each reminder with its life and deliveries, its notice as
HTML and PDF, and a unit's acknowledgement. A unit's key sees and acknowledges only its own;
another unit's reminder is not found (404), never forbidden, so ids reveal nothing. Where a
delivery went and why it failed only the key of the unit it reached sees, and an operator's.
An operator's key (the console) also issues a reminder by hand, resolves one saying how, and
lists failed deliveries (``/v1/deliveries``) and retries them, each an event in its name."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response

from services.api.access import (
    delivery_targets_shown,
    operator_actor,
    require_acknowledge,
    require_operator,
    visible_units,
)
from services.api.dependencies import AppState, Caller, Connection, State
from services.api.errors import Conflict, InvalidRequest, NotFound
from services.api.reminders import operations, repository
from services.api.reminders.notice import Notice, render_html, render_pdf_aside
from services.api.reminders.schemas import (
    DeliveryList,
    DeliveryOut,
    ManualReminderIn,
    ReminderList,
    ReminderOut,
    ResolutionIn,
)
from services.api.reminders.status import ListedStatus, ReminderStatus, TransitionRefused, check
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
    status: ListedStatus | None = None,
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
    if not done and row["status"] != ReminderStatus.ACKNOWLEDGED:  # acknowledged twice: as once
        raise _refused(reminder_id, row["status"], ReminderStatus.ACKNOWLEDGED)
    return await _shown(connection, caller, state, reminder_id)


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
    document = await render_pdf_aside(notice, state.reminding.settings.pdf_font)
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.post(
    "/v1/reminders",
    response_model=ReminderOut,
    status_code=201,
    responses=error_responses(400, 403, 409),  # 400: a body that is not JSON
)
async def issue_by_hand(
    body: ManualReminderIn, caller: Caller, connection: Connection, state: State
) -> ReminderOut:
    """An operator issues a reminder for a cause no rule describes (resolved by hand too),
    delivered to the unit's contacts as any other; 409 where the same cause is open for the
    unit already."""
    require_operator(caller)
    unit = state.reminding.units.by_code.get(body.unit)
    if unit is None:
        raise InvalidRequest(f"no unit {body.unit!r}")
    async with connection.transaction():
        issued = await operations.issue_by_hand(
            connection,
            unit,
            cause=body.cause,
            asked=body.asked,
            respond_within=timedelta(hours=body.respond_within_hours),
            now=state.clock(),
            actor=operator_actor(caller.subject),
        )
    if issued is None:
        raise Conflict(f"the same cause is open for unit {unit.code} already")
    return await _shown(connection, caller, state, issued)


@router.post(
    "/v1/reminders/{reminder_id}/resolve",
    response_model=ReminderOut,
    responses=error_responses(400, 403, 404, 409),
)
async def resolve(
    reminder_id: ReminderId,
    body: ResolutionIn,
    caller: Caller,
    connection: Connection,
    state: State,
) -> ReminderOut:
    """An operator resolves a reminder, saying how."""
    require_operator(caller)
    async with connection.transaction():
        done = await operations.resolve(
            connection, reminder_id, body.how, operator_actor(caller.subject), state.clock()
        )
    if not done:
        row = await _visible(connection, caller, reminder_id)  # 404 where there is none
        raise _refused(reminder_id, row["status"], ReminderStatus.RESOLVED)
    return await _shown(connection, caller, state, reminder_id)


@router.get("/v1/deliveries", response_model=DeliveryList, responses=error_responses(403))
async def list_deliveries(
    caller: Caller,
    connection: Connection,
    status: Literal["pending", "delivered", "failed"] = "failed",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """Reminders' deliveries in one status (by default those given up), newest reminder first,
    with where each went and why it failed: an operator's."""
    require_operator(caller)
    rows = await repository.deliveries(connection, status, limit)
    return DeliveryList(deliveries=[DeliveryOut.model_validate(row) for row in rows])


@router.post(
    "/v1/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses=error_responses(403, 404, 409),
)
async def retry_delivery(
    delivery_id: uuid.UUID, caller: Caller, connection: Connection, state: State
) -> DeliveryOut:
    """An operator tries a failed delivery again now (sent within the delivery loop's period):
    one more attempt, and its retries while under the channel's limit; 409 where the delivery
    has not failed or its reminder is resolved."""
    require_operator(caller)
    async with connection.transaction():
        done = await operations.retry(
            connection, delivery_id, operator_actor(caller.subject), state.clock()
        )
    found = await repository.delivery(connection, delivery_id)
    if found is None:
        raise NotFound(f"no delivery {delivery_id}")
    if not done:
        raise Conflict(
            f"delivery {delivery_id} is {found['status']}, its reminder"
            f" {found['reminder_status']}: only a failed delivery of an unresolved reminder"
            " is retried"
        )
    return DeliveryOut.model_validate(found)


def _refused(reminder_id: int, current: str, new: ReminderStatus) -> Conflict:
    """The 409 of a change the register did not make: the machine's refusal, in its words."""
    try:
        check(ReminderStatus(current), new)
    except TransitionRefused as refused:
        return Conflict(f"reminder {reminder_id}: {refused}")
    return Conflict(f"reminder {reminder_id} changed meanwhile: read it again")


async def _shown(
    connection: Any, caller: Principal, state: AppState, reminder_id: int
) -> ReminderOut:
    found = await repository.reminder(connection, reminder_id)
    assert found is not None
    return ReminderOut.of(found, delivery_targets_shown(caller, state.reminding.units))


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
