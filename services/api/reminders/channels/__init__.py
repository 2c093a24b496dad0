"""How a reminder reaches its unit, one module per channel, found through ``CHANNELS``. A
channel sends one delivery of one notice, or raises ``DeliveryError`` saying why; the
delivery loop (delivery.py) owns the retries, the register and the metrics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from services.api.reminders.notice import Notice
from services.api.reminders.settings import ReminderSettings
from services.common.units import Unit


class DeliveryError(Exception):
    """This attempt failed; the message says why (it goes into the register)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One delivery of a reminder's notice to one target of one channel."""

    id: uuid.UUID  # the same on every attempt: the receiver drops duplicates by it
    reminder: dict[str, object]  # as GET /v1/reminders/{id} shows it, only its target shown
    occasion: str  # issued, escalated
    target: str
    notice: Notice  # rendered only by a channel that sends the document (e-mail)


class Channel(Protocol):
    name: str

    def targets(self, unit: Unit) -> list[str]:
        """Where this channel reaches ``unit`` (none where the unit file gives no contact)."""
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
