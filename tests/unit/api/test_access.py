"""Who may do what: the one rule both request paths (endpoints, kept answers) apply."""

from __future__ import annotations

import pytest

from services.api.access import (
    contacts_shown,
    delivery_targets_shown,
    key_hash_of,
    may_read_indicators,
    readable_feeds,
    require_acknowledge,
    require_definition,
    require_observations,
    require_operator,
    require_push,
    require_read,
    visible_units,
)
from services.api.errors import Forbidden, Unauthorized
from services.common.feeds import FeedDefinition
from services.common.keys import Principal, hash_key
from services.common.units import load_units
from tests.conftest import SCHEMAS_DIR

READER = Principal(1, "reader", "ioc-wall")
OPERATOR = Principal(5, "operator", "lan")


def _agency(feed: FeedDefinition) -> Principal:
    return Principal(2, "agency", feed.agency)


@pytest.mark.parametrize("header", ["Bearer k1", "bearer k1", "Bearer   k1  "])
def test_a_bearer_header_gives_its_key_hash(header: str) -> None:
    assert key_hash_of(header) == hash_key("k1")


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer  ", "Basic k1", "k1"])
def test_no_bearer_key_gives_none(header: str) -> None:
    assert key_hash_of(header) is None


def test_every_key_reads_the_indicators(feeds: dict[str, FeedDefinition]) -> None:
    assert may_read_indicators(READER)
    assert may_read_indicators(_agency(feeds["salinity"]))


def test_a_reader_reads_every_feed_and_pushes_to_none(feeds: dict[str, FeedDefinition]) -> None:
    for feed in feeds.values():
        require_read(READER, feed)
        with pytest.raises(Forbidden):
            require_push(READER, feed)


def test_an_agency_reads_and_pushes_only_its_own_feeds(feeds: dict[str, FeedDefinition]) -> None:
    salinity = feeds["salinity"]
    agency = _agency(salinity)
    require_read(agency, salinity)
    require_push(agency, salinity)
    others = [feed for feed in feeds.values() if feed.agency != salinity.agency]
    assert others
    for feed in others:
        with pytest.raises(Forbidden):
            require_read(agency, feed)
        with pytest.raises(Forbidden):
            require_push(agency, feed)


def test_only_a_units_own_key_sees_where_its_reminders_went(
    feeds: dict[str, FeedDefinition],
) -> None:
    units = load_units(SCHEMAS_DIR, feeds)
    assert delivery_targets_shown(READER, units) == frozenset()
    tthcc = Principal(3, "agency", "tthcc")
    assert delivery_targets_shown(tthcc, units) == frozenset({("email", "tthcc@camau.gov.vn")})
    # The office its reminders escalate to sees its own contacts, not the centre's.
    office = Principal(4, "agency", "vpubnd")
    assert delivery_targets_shown(office, units) == frozenset({("email", "chidao.so@camau.gov.vn")})


def test_every_key_reads_every_feeds_definition(feeds: dict[str, FeedDefinition]) -> None:
    # What /v1/feeds and the OpenAPI document already show any key: the template too.
    for feed in feeds.values():
        require_definition(READER, feed)
        require_definition(_agency(feeds["salinity"]), feed)
        require_definition(OPERATOR, feed)
    with pytest.raises(Forbidden):
        require_definition(Principal(3, "robot", "x"), feeds["salinity"])  # type: ignore[arg-type]


def test_a_public_feeds_observations_are_read_without_a_key_by_the_one_rule(
    feeds: dict[str, FeedDefinition],
) -> None:
    public = {name for name, feed in feeds.items() if feed.public}
    assert public == {"salinity", "air-quality", "traffic"}
    assert readable_feeds(None, feeds) == frozenset(public)
    for name, feed in feeds.items():
        if name in public:
            require_observations(None, feed, feeds)
        else:
            with pytest.raises(Unauthorized, match="is not public: an API key is required"):
                require_observations(None, feed, feeds)
        require_observations(READER, feed, feeds)


def test_an_agency_reads_its_own_feeds_observations_and_the_public_ones(
    feeds: dict[str, FeedDefinition],
) -> None:
    hospitals = _agency(feeds["hospital-beds"])
    for feed in feeds.values():
        if feed.public or feed.agency == hospitals.subject:
            require_observations(hospitals, feed, feeds)
        else:
            with pytest.raises(Forbidden):
                require_observations(hospitals, feed, feeds)
        if feed.agency != hospitals.subject:  # the quarantine stays the owner's, public or not
            with pytest.raises(Forbidden):
                require_read(hospitals, feed)


def test_an_operator_reads_what_a_reader_does_and_sees_every_delivery_and_contact(
    feeds: dict[str, FeedDefinition],
) -> None:
    units = load_units(SCHEMAS_DIR, feeds)
    assert may_read_indicators(OPERATOR)
    for feed in feeds.values():
        require_read(OPERATOR, feed)
        with pytest.raises(Forbidden):
            require_push(OPERATOR, feed)
    assert readable_feeds(OPERATOR, feeds) is None
    assert visible_units(OPERATOR) is None
    assert delivery_targets_shown(OPERATOR, units) is None  # every one, whole
    assert all(contacts_shown(OPERATOR, code) for code in units.by_code)
    with pytest.raises(Forbidden):  # a unit answers for its own reminders, not the IOC
        require_acknowledge(OPERATOR, "tthcc")


def test_only_an_operator_runs_the_register(feeds: dict[str, FeedDefinition]) -> None:
    require_operator(OPERATOR)
    for caller in (READER, _agency(feeds["salinity"]), Principal(6, "agency", "32150")):
        with pytest.raises(Forbidden):
            require_operator(caller)


def test_a_unit_sees_its_own_contacts_and_a_reader_none() -> None:
    assert contacts_shown(Principal(3, "agency", "tthcc"), "tthcc")
    assert not contacts_shown(Principal(3, "agency", "tthcc"), "syt")
    assert not contacts_shown(READER, "tthcc")
