"""What an operator does to the register, from the console (the API, with an operator's key)
or the terminal (``ioc reminders``): issue a reminder by hand, resolve one saying how, retry a
failed delivery now. Each is one change with its event, under the operator's name
(``access.operator_actor``); the caller holds the transaction."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from services.api.reminders import repository
from services.api.reminders.channels import targets
from services.api.reminders.evaluator import MANUAL
from services.common.units import Unit


def manual_cause(cause: str) -> str:
    """The register's cause of a reminder issued by hand: its words, made a slug (one open
    reminder per unit and cause holds for these too)."""
    return f"{MANUAL}:" + re.sub(r"\W+", "-", cause.casefold()).strip("-")[:60]


async def issue_by_hand(
    connection: Any,
    unit: Unit,
    *,
    cause: str,
    asked: str,
    respond_within: timedelta,
    now: datetime,
    actor: str,
) -> int | None:
    """A reminder for a cause no rule describes (resolved by hand too), delivered as any other
    to the unit's contacts; None where the same cause is open for the unit already."""
    issued = await repository.issue(
        connection,
        unit=unit.code,
        cause=manual_cause(cause),
        rule=MANUAL,
        figures={
            "vi": [cause],
            "en": [cause],
            "title": {"vi": "Nhắc việc", "en": "Reminder"},
            "asked": {"vi": asked, "en": asked},
        },
        respond_by=now + respond_within,
        now=now,
        actor=actor,
    )
    if issued is not None:
        await repository.add_deliveries(connection, issued, "issued", targets(unit), now)
    return issued


async def resolve(connection: Any, reminder: int, how: str, actor: str, now: datetime) -> bool:
    """Resolved, saying how; False where there is no such reminder unresolved."""
    return await repository.resolve(connection, reminder, how, actor, now)


async def retry(connection: Any, delivery: uuid.UUID, actor: str, now: datetime) -> bool:
    """A failed delivery of an unresolved reminder due again ``now`` (the delivery loop sends
    it within its period); False where there is no such failed delivery."""
    return await repository.retry(connection, delivery, actor, now)
