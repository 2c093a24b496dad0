"""The units the IOC follows up: the departments that own feeds and lead programme tasks, and
the communes/wards that send their own figures. A unit is a file, ``schemas/units/<code>.yaml``:
its code (an agency key's subject), Vietnamese and English names, the other names a feed may
use for it, its contacts, and the unit its reminders escalate to."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from services.common.feeds import FeedDefinition

UnitKind = Literal["department", "commune"]


class UnitDefinitionError(ValueError):
    """A unit file, or the units together with the feeds, do not make sense; says which."""


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    kind: UnitKind
    name: str  # Vietnamese, as on the notices
    name_en: str
    aliases: tuple[str, ...]
    emails: tuple[str, ...]
    webhook: str | None
    escalate_to: str | None


@dataclass(frozen=True, slots=True)
class Units:
    """Every unit by code, and the one rule that finds a unit by any name a feed writes."""

    by_code: Mapping[str, Unit]
    by_name: Mapping[str, Unit]  # every name a unit answers to, as ``_comparable`` makes it

    def named(self, name: str) -> Unit | None:
        """The unit a feed means by ``name`` (its code, its name or an alias; case, spacing and
        Unicode normalisation do not matter), or None: the caller says so, never drops it."""
        return self.by_name.get(_comparable(name))


def load_units(schemas_dir: Path, feeds: Mapping[str, FeedDefinition]) -> Units:
    """Every unit under ``schemas_dir/units``, checked against each other and the feeds."""
    units: dict[str, Unit] = {}
    for path in sorted((schemas_dir / "units").glob("*.yaml")):
        unit = _unit(path)
        if unit.code in units:
            raise UnitDefinitionError(f"{path}: unit {unit.code!r} is defined twice")
        units[unit.code] = unit
    _check(units, feeds)
    return Units(units, _names(units))


def _unit(path: Path) -> Unit:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        contacts = raw.get("contacts") or {}
        unit = Unit(
            code=str(raw["code"]),
            kind=_kind(raw["kind"]),
            name=str(raw["name"]),
            name_en=str(raw["name_en"]),
            aliases=tuple(str(alias) for alias in raw.get("aliases") or ()),
            emails=tuple(str(address) for address in contacts.get("email") or ()),
            webhook=str(contacts["webhook"]) if contacts.get("webhook") else None,
            escalate_to=str(raw["escalate_to"]) if raw.get("escalate_to") else None,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise UnitDefinitionError(f"{path}: {error!r}") from error
    if unit.code != path.stem:
        raise UnitDefinitionError(f"{path}: code {unit.code!r} must match its file name")
    if any("@" not in address for address in unit.emails):
        raise UnitDefinitionError(f"{path}: an e-mail address without @")
    if unit.webhook is not None and not _secure(unit.webhook):
        # The URL itself is not said: it may hold the receiver's token.
        raise UnitDefinitionError(
            f"{path}: unit {unit.code}'s webhook must be an https:// URL "
            "(http:// only to this machine: localhost, 127.0.0.1, ::1)"
        )
    return unit


def _secure(url: str) -> bool:
    """https, or http on loopback (tests, a receiver beside the API): no reminder or its
    signature crosses a network in the clear."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if host is None or parts.scheme not in ("https", "http"):
            return False
        if parts.scheme == "https" or host == "localhost":
            return True
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a malformed URL, or an http host that is a name, not an address
        return False


def _kind(value: object) -> UnitKind:
    if value == "department":
        return "department"
    if value == "commune":
        return "commune"
    raise ValueError(f"kind must be department or commune, got {value!r}")


def _check(units: Mapping[str, Unit], feeds: Mapping[str, FeedDefinition]) -> None:
    for unit in units.values():
        if unit.escalate_to is not None and unit.escalate_to not in units:
            raise UnitDefinitionError(
                f"unit {unit.code}: escalates to unknown unit {unit.escalate_to!r}"
            )
    for feed in feeds.values():
        if feed.agency not in units:
            raise UnitDefinitionError(f"feed {feed.feed}: its agency {feed.agency!r} is no unit")


def _names(units: Mapping[str, Unit]) -> dict[str, Unit]:
    """Every name each unit answers to; one name for two units is refused."""
    names: dict[str, Unit] = {}
    for unit in units.values():
        for name in {_comparable(n) for n in (unit.code, unit.name, *unit.aliases)}:
            if names.setdefault(name, unit).code != unit.code:
                raise UnitDefinitionError(
                    f"the name {name!r} is used by units {names[name].code} and {unit.code}"
                )
    return names


def _comparable(name: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", name)).strip().casefold()
