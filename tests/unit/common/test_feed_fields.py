from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.common.feed_fields import FeedField, fields_of, header_key, named
from services.common.feeds import FeedDefinition, FeedDefinitionError, load_feed
from services.common.paths import value_at
from tests.conftest import SCHEMAS_DIR, read_examples

FEEDS = sorted(path.name for path in (SCHEMAS_DIR / "feeds").iterdir() if path.is_dir())


@pytest.mark.parametrize("name", FEEDS)
def test_every_field_of_every_feed_has_a_title_and_one_meaning_per_header(
    feeds: dict[str, FeedDefinition], name: str
) -> None:
    catalogue = fields_of(feeds[name])
    assert catalogue, name
    for field in catalogue:
        assert field.title != field.path, f"{name}: {field.path} has no title in schema.json"
    # every name a header may use means one field (fields_of refuses otherwise)
    assert len(named(catalogue)) == len({header_key(n) for f in catalogue for n in f.names})


@pytest.mark.parametrize("name", FEEDS)
def test_the_time_field_and_the_entity_are_fields_and_required_fields_are_in_every_example(
    feeds: dict[str, FeedDefinition], name: str
) -> None:
    definition = feeds[name]
    catalogue = {field.path: field for field in fields_of(definition)}
    assert [f.path for f in catalogue.values() if f.is_time] == [definition.time.field]
    assert catalogue[definition.time.field].time_format == definition.time.format
    assert catalogue[definition.entity].required
    for example in read_examples(definition.examples_path):
        for field in catalogue.values():
            if field.required and "[]" not in field.path:
                assert value_at(example, field.path) is not None, (name, field.path)


def test_the_admin_dossiers_catalogue_reads_its_schema_and_its_aliases(
    feeds: dict[str, FeedDefinition],
) -> None:
    catalogue = {field.path: field for field in fields_of(feeds["admin-dossiers"])}
    received = catalogue["ho_so.tiep_nhan"]
    assert received == FeedField(
        path="ho_so.tiep_nhan",
        title="Số hồ sơ tiếp nhận",
        aliases=("Tiếp nhận", "Hồ sơ tiếp nhận"),
        type="integer",
        enum=None,
        minimum=0.0,
        maximum=1_000_000.0,
        required=True,
        time_format=None,
        unit="count",
    )
    assert catalogue["don_vi.ten"].required is False
    assert catalogue["ngay"].time_format == "date"
    by_name = named(tuple(catalogue.values()))
    for header in ("ho_so.tiep_nhan", "Số hồ sơ tiếp nhận", "  TIẾP   nhận ", "Tiếp nhận"):
        assert by_name[header_key(header)] is received


def test_enumerations_decimal_commas_and_lists_are_read(feeds: dict[str, FeedDefinition]) -> None:
    tasks = {field.path: field for field in fields_of(feeds["programme-tasks"])}
    assert tasks["trang_thai"].type == "string"
    assert tasks["trang_thai"].enum == ("hoan_thanh", "dang_thuc_hien", "qua_han", "chua_thuc_hien")
    salinity = {field.path: field for field in fields_of(feeds["salinity"])}
    assert salinity["do_man_phan_nghin"].decimal_comma
    assert salinity["muc_nuoc_cm"].unit == ""  # scaled to metres: the cell holds centimetres
    traffic = {field.path: field for field in fields_of(feeds["traffic"])}
    assert traffic["lanes[].vehicles"].required
    assert not traffic["lanes[].lane"].required


@pytest.mark.parametrize(
    ("aliases", "complaint"),
    [
        ("  ho_so.khong_co: [Không có]\n", "aliases name no field of the schema: ho_so.khong_co"),
        ("  ho_so.tre_han: [Giải quyết đúng hạn]\n", "names both ho_so.dung_han and ho_so.tre_han"),
        ("  ho_so.tre_han: Trễ\n", "must be a list of non-empty strings"),
        ("  ho_so.tre_han: ['']\n", "must be a list of non-empty strings"),
    ],
)
def test_a_bad_alias_fails_at_load_naming_the_file(
    tmp_path: Path, aliases: str, complaint: str
) -> None:
    folder = tmp_path / "admin-dossiers"
    shutil.copytree(SCHEMAS_DIR / "feeds" / "admin-dossiers", folder)
    text = (folder / "feed.yaml").read_text(encoding="utf-8")
    head, _, _ = text.partition("aliases:")
    (folder / "feed.yaml").write_text(f"{head}aliases:\n{aliases}", encoding="utf-8")
    with pytest.raises(FeedDefinitionError, match=r"admin-dossiers/feed\.yaml") as raised:
        load_feed(folder)
    assert complaint in str(raised.value)
