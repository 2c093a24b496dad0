"""A reminder's life as one state machine: exactly the changes of the register's rules are
allowed (open to acknowledged, escalated or resolved; escalated to acknowledged or resolved;
acknowledged to resolved; resolved to nothing), every other one refused, and the store's own
CHECK and unique index speak of the same statuses."""

from __future__ import annotations

import itertools
import re

import pytest

from services.api.reminders.status import (
    ISSUED,
    UNRESOLVED,
    ListedStatus,
    ReminderStatus,
    TransitionRefused,
    before,
    check,
    listed,
    may_become,
)
from services.common.settings import REPO_ROOT
from services.common.tables import metadata, reminders

CONSOLE = REPO_ROOT / "services" / "api" / "console" / "page.html"

OPEN, ACKNOWLEDGED, ESCALATED, RESOLVED = (
    ReminderStatus.OPEN,
    ReminderStatus.ACKNOWLEDGED,
    ReminderStatus.ESCALATED,
    ReminderStatus.RESOLVED,
)
# What the register does: the evaluator escalates an open reminder left unanswered; a unit
# acknowledges its open or escalated one; the evaluator or an operator resolves any not over.
EXPECTED = {
    (OPEN, ACKNOWLEDGED),
    (OPEN, ESCALATED),
    (OPEN, RESOLVED),
    (ESCALATED, ACKNOWLEDGED),
    (ESCALATED, RESOLVED),
    (ACKNOWLEDGED, RESOLVED),
}


@pytest.mark.parametrize(
    ("current", "new"), list(itertools.product(ReminderStatus, ReminderStatus))
)
def test_exactly_the_registers_changes_are_allowed(
    current: ReminderStatus, new: ReminderStatus
) -> None:
    allowed = (current, new) in EXPECTED
    assert may_become(current, new) is allowed
    if allowed:
        check(current, new)
    else:
        with pytest.raises(TransitionRefused, match=f"a reminder {current} cannot become {new}"):
            check(current, new)


def test_a_reminder_is_issued_open_and_resolved_is_the_end() -> None:
    assert ISSUED is OPEN
    assert not any(may_become(RESOLVED, new) for new in ReminderStatus)
    with pytest.raises(TransitionRefused, match="nothing: it is over"):
        check(RESOLVED, OPEN)
    assert set(ReminderStatus) - {RESOLVED} == UNRESOLVED


def test_the_repository_changes_a_status_only_from_those_allowed() -> None:
    assert before(ACKNOWLEDGED) == ["escalated", "open"]
    assert before(ESCALATED) == ["open"]
    assert before(RESOLVED) == ["acknowledged", "escalated", "open"]
    assert before(OPEN) == []  # only issued so


def test_a_listing_asks_for_one_status_or_every_unresolved_one() -> None:
    assert {member.value for member in ListedStatus} == {*ReminderStatus, "unresolved"}
    assert listed(ListedStatus.UNRESOLVED) == ["acknowledged", "escalated", "open"]
    assert listed(ListedStatus.ESCALATED) == ["escalated"]


def test_the_store_checks_the_same_statuses() -> None:
    [constraint] = [c for c in reminders.constraints if c.name == "reminders_status_check"]
    checked = set(re.findall(r"'(\w+)'", str(constraint.sqltext)))  # type: ignore[attr-defined]
    assert checked == set(ReminderStatus)
    [index] = [
        i
        for table in metadata.tables.values()
        for i in table.indexes
        if i.name == "reminders_one_open_per_cause"
    ]
    assert index.dialect_options["postgresql"]["where"].right.value == RESOLVED  # status <> it


def test_the_console_offers_and_names_the_machines_statuses() -> None:
    """The console is a static page with its own words for each status: it offers every status
    a listing may ask for, and names each one in both languages."""
    page = CONSOLE.read_text(encoding="utf-8")
    [offered] = re.findall(r'\.\.\.\[("unresolved"[^\]]*)\]\.map', page)
    assert re.findall(r'"(\w+)"', offered) == ["unresolved", *ReminderStatus]
    vietnamese, english = re.findall(r"statuses: \{([^}]*)\}", page)
    for words in (vietnamese, english):
        assert set(ListedStatus) <= set(re.findall(r"(\w+):", words))
