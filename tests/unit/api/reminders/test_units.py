"""Units as data: every file loads, names resolve however a feed writes them, and a unit set
that cannot work is refused, saying why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.common.feeds import load_feeds
from services.common.units import UnitDefinitionError, load_units
from tests.conftest import SCHEMAS_DIR


def test_every_feed_agency_and_every_escalation_is_a_unit() -> None:
    units = load_units(SCHEMAS_DIR, load_feeds(SCHEMAS_DIR))
    assert {"snnmt", "tthcc", "ttgsdh", "syt", "skhcn", "sxd", "vpubnd"} <= set(units.by_code)
    communes = {code for code, unit in units.by_code.items() if unit.kind == "commune"}
    assert communes == {"32002", "32005", "32014", "32150", "32201"}


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Sở Khoa học và Công nghệ", "skhcn"),
        ("  sở   KH&CN ", "skhcn"),
        ("So\u031b\u0309 Y tê\u0301", "syt"),  # decomposed Unicode, as some exports write it
        ("32150", "32150"),
        ("UBND Xã Phú Tân", "32150"),
        ("Phòng không có", None),
    ],
)
def test_a_unit_is_found_by_its_code_name_or_alias(written: str, code: str | None) -> None:
    units = load_units(SCHEMAS_DIR, load_feeds(SCHEMAS_DIR))
    found = units.named(written)
    assert (found.code if found else None) == code


def _copy(tmp_path: Path) -> Path:
    copied = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, copied)
    return copied


@pytest.mark.parametrize(
    ("file", "change", "refusal"),
    [
        ("syt.yaml", ("escalate_to: vpubnd", "escalate_to: nobody"), "unknown unit 'nobody'"),
        ("syt.yaml", ("aliases: [Sở Y tế tỉnh]", "aliases: [Sở XD]"), "used by units"),
        ("syt.yaml", ("code: syt", "code: syte"), "must match its file name"),
        ("syt.yaml", ("kind: department", "kind: ministry"), "kind must be"),
        ("syt.yaml", ("vanphong.syt@camau.gov.vn", "vanphong.syt"), "without @"),
        ("syt.yaml", ("contacts:\n", "contacts:\n  webhook: ftp://h.example/\n"), "syt's webhook"),
        # In the clear across a network: the reminder and its signature readable on the way.
        ("syt.yaml", ("contacts:\n", "contacts:\n  webhook: http://h.example/\n"), "https://"),
        ("syt.yaml", ("contacts:\n", "contacts:\n  webhook: http://10.0.0.7/\n"), "https://"),
    ],
)
def test_a_unit_set_that_cannot_work_is_refused(
    tmp_path: Path, file: str, change: tuple[str, str], refusal: str
) -> None:
    schemas = _copy(tmp_path)
    path = schemas / "units" / file
    path.write_text(path.read_text(encoding="utf-8").replace(*change), encoding="utf-8")
    with pytest.raises(UnitDefinitionError, match=refusal):
        load_units(schemas, load_feeds(schemas))


@pytest.mark.parametrize(
    "url", ["https://hooks.syt.example/ioc", "http://127.0.0.1:8080/ioc", "http://localhost/ioc"]
)
def test_a_webhook_is_https_or_on_this_machine(tmp_path: Path, url: str) -> None:
    schemas = _copy(tmp_path)
    path = schemas / "units" / "syt.yaml"
    with_hook = path.read_text(encoding="utf-8").replace(
        "contacts:\n", f"contacts:\n  webhook: {url}\n"
    )
    path.write_text(with_hook, encoding="utf-8")
    assert load_units(schemas, load_feeds(schemas)).by_code["syt"].webhook == url


def test_a_feed_whose_agency_is_no_unit_is_refused(tmp_path: Path) -> None:
    schemas = _copy(tmp_path)
    (schemas / "units" / "sxd.yaml").unlink()
    with pytest.raises(UnitDefinitionError, match="feed traffic: its agency 'sxd' is no unit"):
        load_units(schemas, load_feeds(schemas))
