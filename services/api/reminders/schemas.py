from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.api.reminders.status import ReminderStatus


class ReminderEvent(BaseModel):
    at: datetime
    event: str = Field(
        description="issued, delivered, delivery_failed, delivery_retried, acknowledged,"
        " escalated, followed_up, resolved"
    )
    actor: str = Field(
        description="ioc (the evaluator), key <id> (a unit's), or operator <name> that acted"
    )
    detail: dict[str, Any]


class ReminderDelivery(BaseModel):
    id: str = Field(description="The receiver's deduplication id: the same on every attempt")
    occasion: Literal["issued", "escalated", "follow_up"]
    follow_up: int = Field(description="The follow-up whose notice it carries; 0: the reminder's")
    channel: str
    target: str | None = Field(
        description="Where it goes: the e-mail address or webhook URL, shown only to the key of "
        "the unit it reaches (null to others)"
    )
    status: Literal["pending", "delivered", "failed", "cancelled"] = Field(
        description="cancelled: its reminder was resolved before it went out"
    )
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed, shown as target is")
    delivered_at: datetime | None


class ReminderFollowUp(BaseModel):
    follow_up: int = Field(description="Its place after the reminder: 1, 2, ...")
    number: str = Field(description="The follow-up notice's number (số phiếu): 12-1/PNV-IOC")
    at: datetime
    respond_by: datetime
    figures: dict[str, Any] = Field(description="What joined the cause; vi and en: as worded")


class ReminderOut(BaseModel):
    id: int
    number: str = Field(description="The notice's number (số phiếu)")
    unit: str
    rule: str
    cause: str
    status: ReminderStatus
    title: dict[str, str] = Field(description="vi and en")
    figures: dict[str, Any] = Field(
        description="The cause's figures; vi and en: as the notice words them"
    )
    asked: dict[str, str]
    issued_at: datetime
    respond_by: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalated_at: datetime | None
    escalated_to: str | None
    resolved_at: datetime | None
    resolution: str | None
    events: list[ReminderEvent]
    deliveries: list[ReminderDelivery]
    follow_ups: list[ReminderFollowUp] = Field(
        description="Follow-up notices: what joined the cause after the notice was issued "
        "(which stays as issued)"
    )

    @classmethod
    def of(cls, row: dict[str, Any], shown: Collection[tuple[str, str]] | None) -> ReminderOut:
        """The reminder, its deliveries' targets and errors (and its events' word of them) only
        where their (channel, target) is ``shown`` (access.delivery_targets_shown; None: every
        one)."""
        figures = {k: v for k, v in row["figures"].items() if k not in ("title", "asked")}
        computed = ("figures", "events", "deliveries", "follow_ups")
        return cls(
            **{k: row[k] for k in cls.model_fields if k in row and k not in computed},
            number=f"{row['id']}/PNV-IOC",
            title=row["figures"].get("title", {}),
            asked=row["figures"].get("asked", {}),
            figures=figures,
            events=[_event(event, shown) for event in row["events"]],
            deliveries=[_delivery(delivery, shown) for delivery in row["deliveries"]],
            follow_ups=[
                ReminderFollowUp(
                    **{k: v for k, v in added.items() if k != "figures"},
                    number=f"{row['id']}-{added['follow_up']}/PNV-IOC",
                    figures={
                        k: v for k, v in added["figures"].items() if k not in ("title", "asked")
                    },
                )
                for added in row.get("follow_ups", [])
            ],
        )


class ReminderList(BaseModel):
    reminders: list[ReminderOut]


def _delivery(
    delivery: dict[str, Any], shown: Collection[tuple[str, str]] | None
) -> ReminderDelivery:
    if shown is not None and (delivery["channel"], delivery["target"]) not in shown:
        delivery = {**delivery, "target": None, "last_error": None}
    return ReminderDelivery.model_validate(delivery)


def _event(event: dict[str, Any], shown: Collection[tuple[str, str]] | None) -> ReminderEvent:
    """A delivery's event (delivered, delivery_failed, retried) names its target, and its
    error."""
    detail = event["detail"]
    withheld = shown is not None and (detail.get("channel"), detail.get("target")) not in shown
    if "target" in detail and withheld:
        hidden = {k: v for k, v in detail.items() if k not in ("target", "error")}
        event = {**event, "detail": hidden}
    return ReminderEvent.model_validate(event)


class ManualReminderIn(BaseModel):
    """A reminder issued by hand by an operator: a cause no rule describes."""

    unit: str = Field(min_length=1, max_length=100, description="The unit's code")
    cause: str = Field(min_length=1, max_length=1000, description="What is wrong, in Vietnamese")
    asked: str = Field(min_length=1, max_length=2000, description="What the unit is asked to do")
    respond_within_hours: float = Field(72, gt=0, le=24 * 90)


class ResolutionIn(BaseModel):
    how: str = Field(min_length=1, max_length=1000, description="How it was resolved")


class DeliveryOut(ReminderDelivery):
    reminder_id: int
    unit: str
    rule: str
    reminder_status: ReminderStatus
    next_attempt_at: datetime


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
