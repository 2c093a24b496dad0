"""The SensorThings API over a real store holding every example feed: paging and its limits,
every ``$filter`` operator the README lists, the other query options, bad queries, and who sees
what (a feed that is not public is invisible without a key that may read it)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from services.common.feeds import FeedDefinition
from services.common.keys import issue_key, revoke_key
from services.common.settings import CommonSettings
from tests.integration.api.conftest import API_MAX_PAGE
from tests.integration.pipeline import ingest_every_example

pytestmark = pytest.mark.integration
STA = "/sta/v1.0"


def _expected(feed: FeedDefinition) -> list[dict[str, Any]]:
    path = feed.directory / "expected.ndjson"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _series(feed: FeedDefinition, entity: str, metric: str) -> list[tuple[str, Any]]:
    """(event time, value) of one series, as the feed's expectations say it is stored."""
    rows = {
        datetime.fromisoformat(row["ts"]): row["observations"][metric]
        for row in _expected(feed)
        if row["entity"] == entity and metric in row["observations"]
    }
    return [(ts.strftime("%Y-%m-%dT%H:%M:%SZ"), value) for ts, value in sorted(rows.items())]


async def _all(client: httpx.AsyncClient, url: str, **headers: str) -> list[dict[str, Any]]:
    """Every entity of a collection, following @iot.nextLink to the end."""
    found: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["value"]) <= API_MAX_PAGE
        found += body["value"]
        next_url = body.get("@iot.nextLink")
    return found


async def _datastream(client: httpx.AsyncClient, entity: str, metric: str, **headers: str) -> int:
    query = f"properties/entity eq '{entity}' and properties/metric eq '{metric}'"
    [datastream] = await _all(client, f"{STA}/Datastreams?$filter={query}", **headers)
    return int(datastream["@iot.id"])


async def _bearer(db: Any, kind: str, subject: str) -> dict[str, str]:
    _, key = await issue_key(db, kind, subject)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_datastreams_observations_are_its_stored_rows_paged_to_the_end(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], client: httpx.AsyncClient
) -> None:
    await ingest_every_example(settings, feeds)
    expected = _series(feeds["salinity"], "CM-SAL-01", "salinity_ppt")
    datastream = await _datastream(client, "CM-SAL-01", "salinity_ppt")

    # Ordered by time, pages follow the last row's key ($skiptoken); ordered by a value that may
    # repeat, they follow $skip: either way every row comes once, in order.
    url = f"{STA}/Datastreams({datastream})/Observations?$orderby=phenomenonTime&$top=2"
    observations = await _all(client, url)
    assert [(o["phenomenonTime"], o["result"]) for o in observations] == expected
    by_value = await _all(
        client, f"{STA}/Datastreams({datastream})/Observations?$orderby=result desc&$top=3"
    )
    assert sorted((o["phenomenonTime"], o["result"]) for o in by_value) == expected
    assert [o["result"] for o in by_value] == sorted((v for _, v in expected), reverse=True)
    newest_first = await _all(
        client, f"{STA}/Datastreams({datastream})/Observations?$orderby=phenomenonTime desc"
    )
    assert [(o["phenomenonTime"], o["result"]) for o in newest_first] == expected[::-1]

    # The server's limit holds whatever $top asks, and says where the rest is.
    response = await client.get(
        f"{STA}/Datastreams({datastream})/Observations?$top=1000&$count=true"
    )
    body = response.json()
    assert len(body["value"]) == API_MAX_PAGE < len(expected)
    assert body["@iot.count"] == len(expected)
    assert "$skiptoken=" in body["@iot.nextLink"].replace("%24", "$")

    # An observation's id finds it again, and its links lead to its datastream and feature.
    first = observations[0]
    again = (await client.get(first["@iot.selfLink"])).json()
    assert again == first
    parent = (await client.get(first["Datastream@iot.navigationLink"])).json()
    assert parent["@iot.id"] == datastream
    feature = (await client.get(first["FeatureOfInterest@iot.navigationLink"])).json()
    assert feature["feature"] == {"type": "Point", "coordinates": [104.8123, 8.8571]}


def _things(feeds: dict[str, FeedDefinition]) -> dict[str, str]:
    """The public feeds' entities and their names, as the expectations say they are stored."""
    names: dict[str, str] = {}
    for feed in feeds.values():
        if feed.public:
            for row in _expected(feed):
                attributes = row["attributes"]
                names[row["entity"]] = attributes.get(
                    "name", attributes.get("title", row["entity"])
                )
    return names


# Each operator and function the README lists, on the public things (by entity id) ...
THING_FILTERS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("substringof('SAL', properties/entity)", lambda e, n: "SAL" in e),
    ("contains(properties/entity, 'AQ')", lambda e, n: "AQ" in e),
    ("startswith(properties/entity, 'CM-SAL')", lambda e, n: e.startswith("CM-SAL")),
    ("endswith(properties/entity, '01')", lambda e, n: e.endswith("01")),
    ("length(properties/entity) eq 9", lambda e, n: len(e) == 9),
    ("indexof(properties/entity, 'SAL') eq 3", lambda e, n: e.find("SAL") == 3),
    ("substring(properties/entity, 3) eq 'SAL-01'", lambda e, n: e[3:] == "SAL-01"),
    ("substring(properties/entity, 3, 3) eq 'SAL'", lambda e, n: e[3:6] == "SAL"),
    ("tolower(properties/entity) eq 'cm-sal-02'", lambda e, n: e.lower() == "cm-sal-02"),
    ("toupper(name) eq name", lambda e, n: n.upper() == n),
    ("trim(name) eq name", lambda e, n: n.strip() == n),
    ("concat(properties/entity, '!') eq 'CM-AQ-01!'", lambda e, n: e + "!" == "CM-AQ-01!"),
    ("properties/entity ne 'CM-SAL-01'", lambda e, n: e != "CM-SAL-01"),
    ("properties/entity gt 'CM-SAL'", lambda e, n: e > "CM-SAL"),
    ("properties/entity lt 'CM-SAL'", lambda e, n: e < "CM-SAL"),
    ("properties/entity ge 'CM-SAL-02'", lambda e, n: e >= "CM-SAL-02"),
    ("properties/entity le 'CM-AQ-02'", lambda e, n: e <= "CM-AQ-02"),
    ("not startswith(properties/entity, 'CM')", lambda e, n: not e.startswith("CM")),
    (
        "(startswith(properties/entity, 'CM-AQ') or endswith(properties/entity, '03'))"
        " and not (properties/entity eq 'CM-AQ-02')",
        lambda e, n: (e.startswith("CM-AQ") or e.endswith("03")) and e != "CM-AQ-02",
    ),
]


@pytest.mark.asyncio(loop_scope="session")
async def test_every_filter_operator_the_readme_lists_selects_what_it_says(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], client: httpx.AsyncClient
) -> None:
    await ingest_every_example(settings, feeds)
    names = _things(feeds)
    latitudes = {
        row["entity"]: float(row["attributes"]["lat"])
        for row in _expected(feeds["salinity"])
        if "lat" in row["attributes"]
    }
    for expression, keep in THING_FILTERS:
        found = await _all(client, f"{STA}/Things?$filter={expression}")
        wanted = {e for e, n in names.items() if keep(e, n)}
        assert {t["properties"]["entity"] for t in found} == wanted, expression
    # A JSON member compared with a number compares as a number (where it is one).
    found = await _all(client, f"{STA}/Things?$filter=properties/lat gt 8.9")
    assert {t["properties"]["entity"] for t in found} == {
        e for e, lat in latitudes.items() if lat > 8.9
    }

    # ... and on one datastream's observations (numbers and times).
    series = _series(feeds["salinity"], "CM-SAL-01", "salinity_ppt")
    datastream = await _datastream(client, "CM-SAL-01", "salinity_ppt")
    middle = sorted(v for _, v in series)[len(series) // 2]
    checks: list[tuple[str, Callable[[str, float], bool]]] = [
        (f"result eq {middle}", lambda t, v: v == middle),
        (f"result ne {middle}", lambda t, v: v != middle),
        (f"result gt {middle}", lambda t, v: v > middle),
        (f"result ge {middle}", lambda t, v: v >= middle),
        (f"result lt {middle}", lambda t, v: v < middle),
        (f"result le {middle}", lambda t, v: v <= middle),
        (f"result add 1 gt {middle}", lambda t, v: v + 1 > middle),
        (f"result sub 1 lt {middle} sub 2", lambda t, v: v - 1 < middle - 2),
        (f"result mul 2 ge {middle} mul 2", lambda t, v: v * 2 >= middle * 2),
        (f"result div 2 lt {middle} div 2", lambda t, v: v / 2 < middle / 2),
        ("result mod 2 gt 1", lambda t, v: math.fmod(v, 2) > 1),
        (f"-result lt -{middle}", lambda t, v: -v < -middle),
        (f"round(result) eq {round(middle)}", lambda t, v: math.floor(v + 0.5) == round(middle)),
        (
            f"floor(result) eq {math.floor(middle)}",
            lambda t, v: math.floor(v) == math.floor(middle),
        ),
        (f"ceiling(result) eq {math.ceil(middle)}", lambda t, v: math.ceil(v) == math.ceil(middle)),
        ("phenomenonTime ge 2026-11-25T00:00:00Z", lambda t, v: t >= "2026-11-25T00:00:00Z"),
        ("phenomenonTime lt 2026-11-25T07:00:00+07:00", lambda t, v: t < "2026-11-25T00:00:00Z"),
        ("year(phenomenonTime) eq 2026", lambda t, v: t.startswith("2026")),
        ("month(phenomenonTime) eq 11", lambda t, v: t[5:7] == "11"),
        ("day(phenomenonTime) eq 24", lambda t, v: t[8:10] == "24"),
        ("hour(phenomenonTime) eq 23", lambda t, v: t[11:13] == "23"),
        ("minute(phenomenonTime) eq 15", lambda t, v: t[14:16] == "15"),
        ("second(phenomenonTime) eq 0", lambda t, v: t[17:19] == "00"),
        ("fractionalseconds(phenomenonTime) eq 0", lambda t, v: True),
        ("date(phenomenonTime) eq 2026-11-24T00:00:00Z", lambda t, v: t.startswith("2026-11-24")),
        ("totaloffsetminutes(phenomenonTime) eq 0", lambda t, v: True),
        ("phenomenonTime lt now()", lambda t, v: True),
        ("phenomenonTime gt mindatetime() and phenomenonTime lt maxdatetime()", lambda t, v: True),
        ("resultTime ne null", lambda t, v: True),
        ("Datastream/properties/metric eq 'salinity_ppt'", lambda t, v: True),
        ("FeatureOfInterest/name eq 'nowhere'", lambda t, v: False),
    ]
    for expression, selects in checks:
        url = f"{STA}/Datastreams({datastream})/Observations?$filter={expression}"
        observations = await _all(client, url.replace("+", "%2B"))
        selected = [(t, v) for t, v in series if selects(t, v)]
        assert sorted((o["phenomenonTime"], o["result"]) for o in observations) == selected, (
            expression
        )


@pytest.mark.asyncio(loop_scope="session")
async def test_text_results_filter_as_text(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], client: httpx.AsyncClient, db: Any
) -> None:
    await ingest_every_example(settings, feeds)
    reader = await _bearer(db, "reader", "researcher")
    resolved = {
        (row["entity"], row["ts"])
        for row in _expected(feeds["citizen-feedback"])
        if row["observations"].get("status") == "resolved"
    }
    query = "result eq 'resolved' and Datastream/properties/feed eq 'citizen-feedback'"
    found = await _all(client, f"{STA}/Observations?$filter={query}&$expand=Datastream", **reader)
    assert {(o["Datastream"]["properties"]["entity"], o["phenomenonTime"]) for o in found} == {
        (entity, datetime.fromisoformat(ts).strftime("%Y-%m-%dT%H:%M:%SZ"))
        for entity, ts in resolved
    }
    assert found
    assert all(o["result"] == "resolved" for o in found)


BAD_QUERIES = [
    ("Things?$filter=name eq", "ends where a value was expected"),
    ("Things?$filter=name eq 'x' garbage", "unexpected 'garbage'"),
    ("Things?$filter=colour eq 'red'", "Thing has no property 'colour'"),
    ("Things?$filter=name eq 3", "cannot compare a text with a number"),
    ("Things?$filter=name", "must be a condition"),
    ("Things?$filter=frobnicate(name)", "unknown function 'frobnicate'"),
    ("Things?$filter=geo.distance(location, 'POINT(1 2)') lt 1", "geospatial function"),
    ("Things?$filter=Datastreams/name eq 'x'", "lambda operators"),
    ("Things?$filter=length(name, name) eq 1", "length takes 1 argument"),
    ("Things?$filter=name eq 'unclosed", "cannot read"),
    ("Things?$top=-1", "$top must be a whole number"),
    ("Things?$skip=many", "$skip must be a whole number"),
    ("Things?$count=maybe", "$count must be true or false"),
    ("Things?$orderby=name sideways", "is not asc or desc"),
    ("Things?$orderby=properties", "cannot be ordered by 'properties'"),
    ("Things?$select=colour", "no property 'colour'"),
    ("Things?$expand=Colours", "no relation 'Colours'"),
    ("Things?$search=x", "unknown query option $search"),
    ("Things(abc)", "an id is an integer"),
    ("Widgets", "unknown entity set 'Widgets'"),
    ("Things/Datastreams", "follows a collection"),
    ("Things(1)/colour", "no relation or property 'colour'"),
    ("Things(1)/name/extra", "only $value may follow"),
    ("Things?$skiptoken=bm90IGEgdG9rZW4", "$skiptoken is not one this service gave"),
    ("Things?$orderby=name&$skiptoken=WzFd", "applies only to the order of the page"),
]


@pytest.mark.parametrize(("query", "reason"), BAD_QUERIES)
@pytest.mark.asyncio(loop_scope="session")
async def test_a_bad_query_is_a_400_that_says_why(
    client: httpx.AsyncClient, query: str, reason: str
) -> None:
    response = await client.get(f"{STA}/{query}")
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_feed_that_is_not_public_is_invisible_without_a_key_that_may_read_it(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], client: httpx.AsyncClient, db: Any
) -> None:
    await ingest_every_example(settings, feeds)
    assert not feeds["hospital-beds"].public
    assert feeds["salinity"].public
    reader = await _bearer(db, "reader", "wall")
    hospitals = await _bearer(db, "agency", feeds["hospital-beds"].agency)
    other_agency = await _bearer(db, "agency", "sxd")
    hospital_entities = {row["entity"] for row in _expected(feeds["hospital-beds"])}

    query = f"{STA}/Things?$filter=properties/feed eq 'hospital-beds'"
    seen = await _all(client, query, **reader)
    assert {t["properties"]["entity"] for t in seen} == hospital_entities
    assert await _all(client, query, **hospitals) == seen
    assert await _all(client, query) == []
    assert await _all(client, query, **other_agency) == []

    thing = seen[0]["@iot.selfLink"]
    datastream = await _datastream(client, "BV-DKCM", "inpatients", **reader)
    for path in (
        thing,
        f"{thing}/Datastreams",
        f"{thing}/Locations",
        f"{STA}/Datastreams({datastream})",
        f"{STA}/Datastreams({datastream})/Observations",
        f"{STA}/Datastreams({datastream})/Thing",
    ):
        assert (await client.get(path)).status_code == 404, path
        assert (await client.get(path, headers=other_agency)).status_code == 404, path
        assert (await client.get(path, headers=hospitals)).status_code == 200, path
    everything = await _all(client, f"{STA}/Observations?$filter=Datastream/id eq {datastream}")
    assert everything == []

    # A public feed's entities need no key; a wrong or revoked key is refused, not ignored.
    assert (await client.get(f"{STA}/Things")).status_code == 200
    wrong = {"Authorization": "Bearer not-a-key"}
    assert (await client.get(f"{STA}/Things", headers=wrong)).status_code == 401
    key_id, key = await issue_key(db, "reader", "leaver")
    await revoke_key(db, key_id)
    revoked = {"Authorization": f"Bearer {key}"}
    assert (await client.get(f"{STA}/Things", headers=revoked)).status_code == 401


@pytest.mark.asyncio(loop_scope="session")
async def test_select_expand_orderby_count_and_where_things_are(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], client: httpx.AsyncClient
) -> None:
    await ingest_every_example(settings, feeds)
    names = _things(feeds)

    body = (await client.get(f"{STA}/Things?$count=true&$select=name,id")).json()
    assert body["@iot.count"] == len(names)
    only_count = (await client.get(f"{STA}/Things?$count=true&$top=0")).json()
    assert only_count == {"@iot.count": len(names), "value": []}
    assert all(set(t) == {"@iot.id", "name"} for t in body["value"])

    ordered = await _all(client, f"{STA}/Things?$orderby=name desc")
    assert [t["name"] for t in ordered] == sorted(names.values(), reverse=True)

    [station] = await _all(
        client,
        f"{STA}/Things?$filter=properties/entity eq 'CM-SAL-01'&$expand=Locations,Datastreams",
    )
    assert station["name"] == "Cống Cái Đôi Vàm"
    assert [loc["location"] for loc in station["Locations"]] == [
        {"type": "Point", "coordinates": [104.8123, 8.8571]}
    ]
    assert sorted(d["properties"]["metric"] for d in station["Datastreams"]) == [
        "salinity_ppt",
        "water_level_m",
    ]
    units = {d["properties"]["metric"]: d["unitOfMeasurement"] for d in station["Datastreams"]}
    assert units["salinity_ppt"]["symbol"] == "‰"

    # A thing whose feed gives no coordinates is an unlocated feature that says what places it.
    traffic = "startswith(properties/feed, 'traffic')"
    response = await client.get(f"{STA}/Things?$filter={traffic}&$top=1&$expand=Locations")
    [camera] = response.json()["value"]
    [place] = camera["Locations"]
    assert place["location"]["type"] == "Feature"
    assert place["location"]["geometry"] is None

    # A property, its raw value, and references.
    thing = station["@iot.selfLink"]
    assert (await client.get(f"{thing}/name")).json() == {"name": "Cống Cái Đôi Vàm"}
    assert (await client.get(f"{thing}/name/$value")).text == "Cống Cái Đôi Vàm"
    references = (await client.get(f"{thing}/Datastreams/$ref")).json()["value"]
    assert sorted(r["@iot.selfLink"] for r in references) == sorted(
        d["@iot.selfLink"] for d in station["Datastreams"]
    )


def _numbers(feed: FeedDefinition) -> set[float]:
    return {
        float(value)
        for row in _expected(feed)
        for value in row["observations"].values()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


@pytest.mark.asyncio(loop_scope="session")
async def test_a_computation_that_fails_on_a_value_says_nothing_of_values_the_caller_cannot_see(
    settings: CommonSettings, feeds: dict[str, FeedDefinition], client: httpx.AsyncClient, db: Any
) -> None:
    """``substring('ab', 0, 2 sub 3 div (1 add (result sub V) mul (result sub V)))`` asks for a
    negative length, a database error, only on a row whose result is within about 0.7 of V. A
    keyless caller must get the same answer whether V is a hidden feed's value or no value at
    all: the computation reaches only the rows it may see."""
    await ingest_every_example(settings, feeds)
    shown = set().union(*(_numbers(f) for f in feeds.values() if f.public))
    hidden = sorted(
        v
        for f in feeds.values()
        if not f.public
        for v in _numbers(f)
        if all(abs(v - s) >= 1 for s in shown)
    )
    assert hidden, "the examples hold a hidden value away from every public one"
    private = hidden[len(hidden) // 2]
    nowhere = max(shown | set(hidden)) + 1000.5

    def probe(value: float) -> str:
        near = f"(result sub {value}) mul (result sub {value})"
        return f"{STA}/Observations?$filter=substring('ab', 0, 2 sub 3 div (1 add {near})) eq 'x'"

    answers = [await client.get(probe(value)) for value in (private, nowhere)]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    # A key that may read the hidden feed meets its value, and is told only the error's kind.
    reader = await _bearer(db, "reader", "auditor")
    seen = await client.get(probe(private), headers=reader)
    assert seen.status_code == 400
    assert "negative substring" not in seen.json()["detail"]
