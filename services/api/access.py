"""Who may do what, decided here for both request paths (the endpoints and the kept answers
of ``indicators/kept_answers.py``): a key is presented as ``Authorization: Bearer <key>``; every
key reads the wall's indicators; reader keys read every feed; an agency's key only its own, and
only an agency's key pushes, to its own feeds; every key reads every feed's definition (its
spreadsheet template). A feed marked public (``public: true``, open data)
has its observations read by anyone, with or without a key: the one rule ``readable_feeds``,
which the observations endpoint, the SensorThings API and the open-data files all follow. What a
feed's quarantine holds (its rejected records, as sent) stays behind a key that may read the
feed, public or not. Where a reminder went and why it failed is its unit's alone, and the
IOC's operators': an operator's key reads what a reader's does, sees every unit's contacts and
every delivery whole, and alone runs the register (issues by hand, resolves, retries a failed
delivery)."""

from __future__ import annotations

from collections.abc import Mapping

from services.api.errors import Forbidden, Unauthorized
from services.api.reminders.channels import targets
from services.common.feeds import FeedDefinition
from services.common.keys import KEY_KINDS, Principal, hash_key
from services.common.units import Units


def presented_key(authorization: str) -> str | None:
    """The key an Authorization header presents, or None where it presents none."""
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return None
    return key


def key_hash_of(authorization: str) -> str | None:
    """The hash of the key an Authorization header presents, or None where it presents none."""
    key = presented_key(authorization)
    return None if key is None else hash_key(key)


def may_read_indicators(caller: Principal) -> bool:
    return caller.kind in ("reader", "agency", "operator")


def require_indicators(caller: Principal) -> None:
    if not may_read_indicators(caller):
        raise Forbidden("this key may not read the indicators")


def require_definition(caller: Principal, feed: FeedDefinition) -> None:
    """A feed's definition (its fields, examples and spreadsheet template) is read by every key:
    ``/v1/feeds`` names every feed to any key, and the OpenAPI document shows each one's format
    and examples."""
    if caller.kind not in KEY_KINDS:
        raise Forbidden(f"this key may not read feed {feed.feed!r}'s definition")


def require_read(caller: Principal, feed: FeedDefinition) -> None:
    if caller.kind in ("reader", "operator"):
        return
    if caller.kind == "agency" and caller.subject == feed.agency:
        return
    raise Forbidden(f"this key may not read feed {feed.feed!r}")


def readable_feeds(
    caller: Principal | None, feeds: Mapping[str, FeedDefinition]
) -> frozenset[str] | None:
    """The feeds whose observations ``caller`` (None: no key) may read; None: every feed."""
    if caller is not None and caller.kind in ("reader", "operator"):
        return None
    return frozenset(
        name
        for name, feed in feeds.items()
        if feed.public
        or (caller is not None and caller.kind == "agency" and caller.subject == feed.agency)
    )


def require_observations(
    caller: Principal | None, feed: FeedDefinition, feeds: Mapping[str, FeedDefinition]
) -> None:
    """A feed's observations, by ``readable_feeds``: without a key only a public feed's."""
    readable = readable_feeds(caller, feeds)
    if readable is None or feed.feed in readable:
        return
    if caller is None:
        raise Unauthorized(
            f"feed {feed.feed!r} is not public: an API key is required, Authorization: Bearer <key>"
        )
    raise Forbidden(f"this key may not read feed {feed.feed!r}")


def require_push(caller: Principal, feed: FeedDefinition) -> None:
    if caller.kind != "agency" or caller.subject != feed.agency:
        raise Forbidden(f"this key may not push to feed {feed.feed!r}")


def visible_units(caller: Principal) -> frozenset[str] | None:
    """The units whose reminders ``caller`` sees; None: every unit (reader and operator keys).
    An agency's key is its unit's (its subject is the unit's code, a commune's too): the
    reminders addressed to it, and those escalated to it (the register's ``VISIBLE_TO``)."""
    if caller.kind in ("reader", "operator"):
        return None
    return frozenset({caller.subject})


def require_acknowledge(caller: Principal, unit: str) -> None:
    """Only the unit a reminder is addressed to acknowledges it, with its own key; the unit it
    was escalated to sees it but does not answer for it."""
    if caller.kind != "agency" or caller.subject != unit:
        raise Forbidden("only the unit's own key acknowledges its reminders")


def require_operator(caller: Principal) -> None:
    """Only the IOC's operators run the register: issue by hand, resolve, retry a delivery."""
    if caller.kind != "operator":
        raise Forbidden("only an operator's key runs the register")


def operator_actor(name: str) -> str:
    """The register's word for an operator who acted (``reminder_events.actor``), from the
    console (the key's name) or the terminal (the login's)."""
    return f"operator {name}"


def contacts_shown(caller: Principal, unit: str) -> bool:
    """Whether ``caller`` sees ``unit``'s contacts (e-mail addresses, webhook): an operator's
    key, or the unit's own."""
    return caller.kind == "operator" or (caller.kind == "agency" and caller.subject == unit)


def delivery_targets_shown(caller: Principal, units: Units) -> frozenset[tuple[str, str]] | None:
    """The (channel, target) pairs whose reminder deliveries ``caller`` sees whole, where they
    went and why they failed (a webhook's URL may hold its token, an SMTP error names the relay):
    None, every one, to an operator's key; an agency's key its own unit's contacts, as its unit
    file gives them, not those of a unit a reminder was escalated to or from; a reader key, on a
    wall in a public room, none. What else a delivery says (channel, status, attempts, when
    delivered) is shown to every caller who sees the reminder."""
    if caller.kind == "operator":
        return None
    unit = units.by_code.get(caller.subject) if caller.kind == "agency" else None
    return frozenset(targets(unit)) if unit is not None else frozenset()
