"""A signed webhook: the reminder as JSON, POSTed to the unit's URL with ``X-IOC-Delivery``
(the same id on every retry: the receiver drops duplicates by it) and ``X-IOC-Signature``
(``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` under the unit's own secret, as
Stripe signs: the receiver recomputes it and refuses a ``t`` more than 5 minutes from its own
clock, so a captured delivery cannot be replayed later). Any 2xx is delivered."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import httpx
import orjson

from services.api.reminders.channels import DeliveryError, Outgoing
from services.api.reminders.settings import ReminderSettings
from services.common.settings import SettingsError
from services.common.units import Unit, Units

TIMEOUT_S = 10


def signature(secret: str, body: bytes, at: datetime) -> str:
    t = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _sendable(url: str) -> bool:
    """What httpx takes for a URL but fails on only when sending (an empty label in the host,
    ``https://a..b/``, is a UnicodeError there; a port out of range a connection error)."""
    try:
        parsed = httpx.URL(url)
        parsed.host.encode("idna")
    except (httpx.InvalidURL, UnicodeError):
        return False
    return parsed.port is None or 0 < parsed.port < 65536


class Webhook:
    name = "webhook"

    def targets(self, unit: Unit) -> list[str]:
        return [unit.webhook] if unit.webhook else []

    def check(self, units: Units, settings: ReminderSettings) -> None:
        holders: dict[str, str] = {}
        for unit in units.by_code.values():
            if unit.webhook is None:
                continue
            if unit.code not in settings.webhook_secrets:
                raise SettingsError(
                    f"unit {unit.code} has a webhook but no secret to sign it: put one in the "
                    f"file {unit.code} of IOC_WEBHOOK_SECRETS_DIR"
                )
            if not _sendable(unit.webhook):
                # The URL itself is not said: it may hold the receiver's token.
                raise SettingsError(
                    f"unit {unit.code}'s webhook is not a URL a request can be sent to "
                    "(its host name or port)"
                )
            # One URL, one unit: a delivery is signed with the secret of the unit it reaches.
            other = holders.setdefault(unit.webhook, unit.code)
            if other != unit.code:
                raise SettingsError(f"units {other} and {unit.code} have the same webhook URL")

    async def send(self, outgoing: Outgoing, settings: ReminderSettings) -> None:
        if outgoing.unit is None:
            raise DeliveryError("no unit file names this webhook any more: not signed")
        body = orjson.dumps(
            {
                "delivery": str(outgoing.id),
                "occasion": outgoing.occasion,
                "follow_up": outgoing.follow_up,
                "reminder": outgoing.reminder,
            }
        )
        secret = settings.webhook_secrets[outgoing.unit]  # every webhook's unit has one (check)
        headers = {
            "Content-Type": "application/json",
            "X-IOC-Delivery": str(outgoing.id),
            "X-IOC-Signature": signature(secret, body, outgoing.at),
        }
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.post(outgoing.target, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(
                f"{outgoing.target}: {error.__class__.__name__}: {error}"
            ) from error
        if not response.is_success:
            raise DeliveryError(f"{outgoing.target} answered {response.status_code}")
