from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ReminderStatus = Literal["open", "acknowledged", "escalated", "resolved"]


class ReminderEvent(BaseModel):
    at: datetime
    event: str = Field(
        description="issued, delivered, delivery_failed, acknowledged, escalated, resolved"
    )
    actor: str = Field(description="ioc (the evaluator), or the key or operator that acted")
    detail: dict[str, Any]


class ReminderDelivery(BaseModel):
    id: str = Field(description="The receiver's deduplication id: the same on every attempt")
    occasion: Literal["issued", "escalated"]
    channel: str
    target: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


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

    @classmethod
    def of(cls, row: dict[str, Any]) -> ReminderOut:
        figures = {k: v for k, v in row["figures"].items() if k not in ("title", "asked")}
        return cls(
            **{k: row[k] for k in cls.model_fields if k in row and k != "figures"},
            number=f"{row['id']}/PNV-IOC",
            title=row["figures"].get("title", {}),
            asked=row["figures"].get("asked", {}),
            figures=figures,
        )


class ReminderList(BaseModel):
    reminders: list[ReminderOut]
