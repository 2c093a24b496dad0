"""How `ioc reminders list` says a reminder's deliveries went, cancelled ones included (a
reminder resolved before its notice went out is not "trying")."""

from __future__ import annotations

from services.api.reminders.cli import delivered


def test_deliveries_are_said_by_their_status() -> None:
    def of(*statuses: str) -> list[dict[str, str]]:
        return [{"status": status} for status in statuses]

    assert delivered([]) == "no contact"
    assert delivered(of("delivered", "delivered")) == "2/2 delivered"
    assert delivered(of("delivered", "failed")) == "1/2, 1 failed"
    assert delivered(of("pending")) == "0/1, trying"
    assert delivered(of("cancelled")) == "0/1, 1 cancelled"
    assert delivered(of("failed", "cancelled", "pending")) == "0/3, 1 failed, 1 cancelled, trying"
