"""How a reminder reaches its unit, one module per channel, found through ``CHANNELS``. A
channel sends one delivery of one notice, or raises ``DeliveryError`` saying why; the
delivery loop (delivery.py) owns the retries, the register and the metrics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.api.reminders.notice import Notice
from services.api.reminders.settings import ReminderSettings
from services.common.units import Unit, Units


class DeliveryError(Exception):
    """This attempt failed; the message says why (it goes into the register)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery of a reminder's notice to one target of one channel."""

    id: uuid.UUID  # the same on every attempt: the receiver drops duplicates by it
    reminder: dict[str, object]  # as GET /v1/reminders/{id} shows it, only its target shown
    occasion: str  # issued, escalated, follow_up
    target: str
    unit: str | None  # whose contact the target is now (None: no unit file names it any more)
    at: datetime  # this attempt's moment, by the delivery's clock
    notice: Notice  # rendered only by a channel that sends the document (e-mail)
    follow_up: int = 0  # the follow-up it tells (0: the reminder's own notice)


class Channel(Protocol):
    name: str

    def targets(self, unit: Unit) -> list[str]:
        """Where this channel reaches ``unit`` (none where the unit file gives no contact)."""
        ...

    def check(self, units: Units, settings: ReminderSettings) -> None:
        """Refuses at start (``SettingsError``, naming the unit) what this channel could not
        send as configured."""
        ...

    async def send(self, outgoing: Outgoing, settings: ReminderSettings) -> None: ...


def _registry() -> dict[str, Channel]:
    from services.api.reminders.channels.email import Email
    from services.api.reminders.channels.webhook import Webhook

    channels: list[Channel] = [Email(), Webhook()]
    return {channel.name: channel for channel in channels}


CHANNELS: dict[str, Channel] = _registry()


def targets(unit: Unit) -> list[tuple[str, str]]:
    """Every (channel, target) that reaches ``unit``."""
    return [
        (name, target) for name, channel in CHANNELS.items() for target in channel.targets(unit)
    ]


def check(units: Units, settings: ReminderSettings) -> None:
    """Every channel's check of the units against the settings, at start."""
    for channel in CHANNELS.values():
        channel.check(units, settings)


def reached(units: Units, channel: str, target: str) -> str | None:
    """The code of the unit whose contacts hold ``target`` on ``channel`` now, or None."""
    holders = (u.code for u in units.by_code.values() if target in CHANNELS[channel].targets(u))
    return next(holders, None)
