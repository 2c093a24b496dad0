"""A reminder's life, one state machine: its statuses, the changes allowed between them, and the
one check of a change. Every change of a reminder's status goes through it: the repository
changes a status only from those ``before`` allows (in the UPDATE's own WHERE, so two
processes racing cannot make a change the machine refuses), the evaluator escalates only what
``may_become`` escalated, and the store enforces what it can (a CHECK on ``reminders.status``,
the partial unique index keeping one unresolved reminder per unit and cause).

::

    issued ──▶ open ──────────▶ escalated
                │ ╲                 │
                │  ╲──▶ acknowledged ◀┘
                ▼           │       │
             resolved ◀─────┴───────┘

- open: issued, not yet answered;
- escalated: left open past its rule's time, and sent to the unit above too;
- acknowledged: the unit has it in hand: escalation stops, the reminder stays until its cause
  clears or an operator resolves it;
- resolved: over for good; the cause back later is a new reminder.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ReminderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


ISSUED = ReminderStatus.OPEN  # a new reminder's status
UNRESOLVED = frozenset({ReminderStatus.OPEN, ReminderStatus.ACKNOWLEDGED, ReminderStatus.ESCALATED})

ALLOWED: Mapping[ReminderStatus, frozenset[ReminderStatus]] = {
    ReminderStatus.OPEN: frozenset(
        {ReminderStatus.ACKNOWLEDGED, ReminderStatus.ESCALATED, ReminderStatus.RESOLVED}
    ),
    ReminderStatus.ESCALATED: frozenset({ReminderStatus.ACKNOWLEDGED, ReminderStatus.RESOLVED}),
    ReminderStatus.ACKNOWLEDGED: frozenset({ReminderStatus.RESOLVED}),
    ReminderStatus.RESOLVED: frozenset(),
}


class TransitionRefused(ValueError):
    """A change of status the machine does not allow; says which and what it allows."""


def may_become(current: ReminderStatus, new: ReminderStatus) -> bool:
    return new in ALLOWED[current]


def check(current: ReminderStatus, new: ReminderStatus) -> None:
    """Refuses (``TransitionRefused``) a change the machine does not allow."""
    if not may_become(current, new):
        allowed = ", ".join(sorted(ALLOWED[current])) or "nothing: it is over"
        raise TransitionRefused(
            f"a reminder {current} cannot become {new} (it may become {allowed})"
        )


def before(new: ReminderStatus) -> list[str]:
    """The statuses a reminder may become ``new`` from: the repository's UPDATEs match only
    these."""
    return sorted(status for status, allowed in ALLOWED.items() if new in allowed)


class ListedStatus(StrEnum):
    """What a listing of the register asks for: one status, or every unresolved one."""

    OPEN = ReminderStatus.OPEN.value
    ACKNOWLEDGED = ReminderStatus.ACKNOWLEDGED.value
    ESCALATED = ReminderStatus.ESCALATED.value
    RESOLVED = ReminderStatus.RESOLVED.value
    UNRESOLVED = "unresolved"


def listed(asked: ListedStatus) -> list[str]:
    """The statuses a listing for ``asked`` shows."""
    return sorted(UNRESOLVED) if asked is ListedStatus.UNRESOLVED else [asked.value]
