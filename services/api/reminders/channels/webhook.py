"""A signed webhook: the reminder as JSON, POSTed to the unit's URL with ``X-IOC-Delivery``
(the same id on every retry: the receiver drops duplicates by it) and ``X-IOC-Signature``
(``sha256=`` and the HMAC-SHA256 of the body under the shared secret). Any 2xx is delivered."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import orjson

from services.api.reminders.channels import DeliveryError, Outgoing
from services.api.reminders.settings import ReminderSettings
from services.common.units import Unit

TIMEOUT_S = 10


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    name = "webhook"

    def targets(self, unit: Unit) -> list[str]:
        return [unit.webhook] if unit.webhook else []

    async def send(self, outgoing: Outgoing, settings: ReminderSettings) -> None:
        if settings.webhook_secret is None:
            raise DeliveryError(
                "no webhook secret: set IOC_WEBHOOK_SECRET or IOC_WEBHOOK_SECRET_FILE"
            )
        body = orjson.dumps(
            {
                "delivery": str(outgoing.id),
                "occasion": outgoing.occasion,
                "reminder": outgoing.reminder,
            }
        )
        headers = {
            "Content-Type": "application/json",
            "X-IOC-Delivery": str(outgoing.id),
            "X-IOC-Signature": signature(settings.webhook_secret, body),
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
