"""``/v1/mail``: what the local mail sink (services/mail_sink.py, ``make up``'s) kept of the
e-mail the API sent, for an operator to see that the notices went out without a mail relay.
Where no sink is configured (``IOC_MAIL_SINK_DIR``; production), 404."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as FastPath
from fastapi.responses import Response

from services.api.access import require_operator
from services.api.dependencies import AppState, Caller, State
from services.api.errors import NotFound
from services.api.mail.schemas import KeptMessage, MailList
from services.api.schemas import error_responses
from services.mail_sink import NAME, messages

router = APIRouter(tags=["mail"], responses=error_responses(401, 403, 404, 422))


@router.get("/v1/mail", response_model=MailList)
async def list_mail(
    caller: Caller, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> MailList:
    """The messages the local mail sink kept, newest first: an operator's."""
    require_operator(caller)
    kept = await asyncio.to_thread(messages, _sink(state), limit)
    return MailList(
        messages=[
            KeptMessage(name=k.name, received_at=k.received_at, to=k.to, subject=k.subject)
            for k in kept
        ]
    )


@router.get(
    "/v1/mail/{name}",
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}}}},
)
async def get_mail(
    name: Annotated[str, FastPath(pattern=NAME.pattern)], caller: Caller, state: State
) -> Response:
    """One kept message as it was sent (an .eml file an e-mail program opens)."""
    require_operator(caller)
    path = _sink(state) / name
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound(f"no message {name}") from None
    return Response(
        body,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _sink(state: AppState) -> Path:
    folder = state.reminding.settings.mail_sink_dir
    if folder is None or not folder.is_dir():
        raise NotFound("no local mail sink here (IOC_MAIL_SINK_DIR): mail goes to a relay")
    return folder
