"""Loading documents, building schemas and catalogs: the API around the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from segql.config.document import load_document
from segql.config.loader import build_schema, load_catalog, load_schema
from segql.core.diagnostics import SchemaError, Severity
from segql.core.types import Type
from segql.ir.definitions import definitions

FIXTURES = Path(__file__).parent / "fixtures" / "schema"

MINIMAL = """\
entity:
  table: contacts
  key: id
  fields:
    age: integer
    country: {type: string, values: [DE, FR, NO]}
events:
  orders:
    file: data/orders.parquet
    key: contact_id
    time: ordered_at
    fields: {amount: decimal}
traits:
  purchases: count(orders)
"""


# -- documents ------------------------------------------------------------------------


def test_sniffs_formats_of_text() -> None:
    assert load_document('{"a": 1}').fmt == "json"
    assert load_document("[a]\nb = 1\n").fmt == "toml"
    assert load_document("a = 1\n").fmt == "toml"
    assert load_document("a: 1\n").fmt == "yaml"


def test_reads_paths_with_format_from_suffix(tmp_path: Path) -> None:
    p = tmp_path / "s.yml"
    p.write_text("a: 1\n")
    doc = load_document(p)
    assert doc.fmt == "yaml" and doc.file == str(p) and doc.to_python() == {"a": 1}
    assert load_document(str(p)).file == str(p)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as info:
        load_document(tmp_path / "nope.yaml")
    assert info.value.code == "config-io"
    odd = tmp_path / "schema.ini"
    odd.write_text("a: 1\n")
    with pytest.raises(SchemaError) as info:
        load_document(odd)
    assert info.value.code == "config-io"
    assert load_document(odd, fmt="yaml").to_python() == {"a": 1}


def test_crlf_and_bom_keep_lines_and_columns(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_bytes("\ufeffa: 1\r\nb: |\r\n  x\r\n  y\r\n".encode())
    doc = load_document(p)
    b = doc.get("b")
    assert b is not None and b.raw == "x\ny\n" and b.span is not None
    assert (b.span.line, b.span.column) == (2, 4)


def test_dict_documents_have_no_positions() -> None:
    doc = load_document({"a": {"b": [1, "x"]}, 3: None})
    assert doc.fmt == "dict" and doc.span is None and doc.keys() == ["a", "3"]
    assert doc.to_python() == {"a": {"b": [1, "x"]}, "3": None}


def test_yaml_plain_scalars_can_be_read_as_written() -> None:
    doc = load_document("v: [NO, yes, 1.0, 2024-01-01, ~]\nd: 2024-13-45\n")
    items = doc.get("v").items  # type: ignore[union-attr]
    assert [i.string() for i in items] == ["NO", "yes", "1.0", "2024-01-01", None]
    assert items[0].value is False
    assert doc.get("d").value == "2024-13-45"  # type: ignore[union-attr]


def test_yaml_quoted_non_strings_stay_strings() -> None:
    doc = load_document("a: '3'\nb: 3\n")
    assert doc.get("a").string() == "3"  # type: ignore[union-attr]
    assert load_document('{"b": 3}').get("b").string() is None  # type: ignore[union-attr]


def test_yaml_merge_keys_and_aliases() -> None:
    doc = load_document("base: &b {type: string, column: c}\nf: {<<: *b, column: d}\ng: *b\n")
    assert doc.to_python()["f"] == {"column": "d", "type": "string"}
    assert doc.to_python()["g"] == {"type": "string", "column": "c"}


def test_recursive_alias_and_deep_nesting_are_errors_not_crashes() -> None:
    with pytest.raises(SchemaError) as info:
        load_document("a: &x [1, *x]\n")
    assert info.value.code == "config-syntax"
    with pytest.raises(SchemaError) as info:
        load_document("[" * 100_000 + "]" * 100_000, fmt="json")
    assert info.value.code == "config-syntax"


def test_all_duplicate_keys_are_reported() -> None:
    with pytest.raises(SchemaError) as info:
        load_document("a: 1\nb: 2\na: 3\nb: 4\n")
    assert [(d.code, d.line) for d in info.value.diagnostics] == [
        ("duplicate-key", 3),
        ("duplicate-key", 4),
    ]


def test_syntax_error_positions() -> None:
    with pytest.raises(SchemaError) as info:
        load_document("a = [1,\n  2,,]\n", fmt="toml")
    d = info.value.diagnostic
    assert (d.code, d.line, d.column) == ("config-syntax", 2, 5)
    assert d.file == "<string>" and d.source is not None


# -- schemas --------------------------------------------------------------------------


def test_build_schema_resolves_files_against_the_schema_directory(tmp_path: Path) -> None:
    schema, diags = build_schema(load_document(MINIMAL), path=tmp_path / "conf" / "s.yaml")
    assert diags == []
    assert schema.streams["orders"].source.file == tmp_path / "conf" / "data" / "orders.parquet"
    assert schema.entity.source.table == "contacts"
    assert schema.path == (tmp_path / "conf" / "s.yaml").resolve()


def test_build_schema_without_path_resolves_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    schema, _ = build_schema(load_document(MINIMAL))
    assert schema.streams["orders"].source.file == tmp_path.resolve() / "data" / "orders.parquet"


def test_time_column_becomes_a_timestamp_field() -> None:
    schema, _ = build_schema(load_document(MINIMAL))
    orders = schema.streams["orders"]
    assert orders.time == "ordered_at"
    assert orders.fields["ordered_at"].type is Type.TIMESTAMP
    assert orders.fields["ordered_at"].column == "ordered_at"


def test_a_declared_date_time_column_is_kept() -> None:
    text = MINIMAL.replace("{amount: decimal}", "{amount: decimal, ordered_at: date}")
    schema, diags = build_schema(load_document(text))
    assert diags == [] and schema.streams["orders"].fields["ordered_at"].type is Type.DATE


def test_field_long_form() -> None:
    text = MINIMAL.replace(
        "age: integer",
        "age: {type: integer, column: Age Years, description: in years}",
    )
    schema, diags = build_schema(load_document(text))
    assert diags == []
    age = schema.entity.fields["age"]
    assert (age.column, age.description, age.type) == ("Age Years", "in years", Type.INTEGER)
    assert schema.entity.fields["country"].values == ("DE", "FR", "NO")
    assert age.where.span is not None and age.where.span.line == 5


def test_names_may_need_backticks() -> None:
    text = MINIMAL.replace("age: integer", "first name: string\n    by: string")
    schema, diags = build_schema(load_document(text))
    assert diags == [] and {"first name", "by"} <= set(schema.entity.fields)


def test_timezone_default_and_case() -> None:
    assert build_schema(load_document(MINIMAL))[0].timezone == "UTC"
    schema, diags = build_schema(load_document("timezone: utc\n" + MINIMAL))
    assert diags == [] and schema.timezone == "UTC"
    schema, diags = build_schema(load_document("timezone: America/New_York\n" + MINIMAL))
    assert diags == [] and schema.timezone == "America/New_York"


def test_timezone_case_mistake_suggests_the_right_spelling() -> None:
    _, diags = build_schema(load_document("timezone: europe/berlin\n" + MINIMAL))
    assert [d.hints for d in diags] == [("did you mean `Europe/Berlin`?",)]


def test_traits_and_segments_long_and_short_forms() -> None:
    text = MINIMAL + (
        "  spent:\n"
        "    expr: sum(orders.amount)\n"
        "    description: lifetime spend\n"
        "segments:\n"
        "  buyers: purchases > 0\n"
        "  big:\n"
        "    where: spent > 100\n"
        "    description: big spenders\n"
        "    tags: [money, NO]\n"
    )
    schema, diags = build_schema(load_document(text))
    assert diags == []
    assert schema.traits["spent"].text == "sum(orders.amount)"
    assert schema.traits["spent"].description == "lifetime spend"
    assert schema.segments["buyers"].text == "purchases > 0"
    big = schema.segments["big"]
    assert (big.text, big.description, big.tags) == ("spent > 100", "big spenders", ("money", "NO"))
    assert big.where.span is not None and big.where.span.line == 21
    assert big.where.offsets is not None and len(big.where.offsets) == len(big.text)


def test_stream_filter_is_located() -> None:
    text = MINIMAL.replace("time: ordered_at", "time: ordered_at\n    where: amount > 0")
    schema, diags = build_schema(load_document(text))
    orders = schema.streams["orders"]
    assert diags == [] and orders.filter_text == "amount > 0"
    assert orders.filter_where.span is not None
    assert (orders.filter_where.span.line, orders.filter_where.span.column) == (12, 12)


def test_dict_schema_problems_name_their_place() -> None:
    _, diags = build_schema(
        load_document({"entity": {"table": "t", "key": "id", "fields": {"a": "strng"}}})
    )
    (d,) = diags
    assert d.code == "schema-bad-type" and d.file is None
    assert "field `a` of the entity" in d.message


def test_load_schema_from_a_dict_checks_expressions() -> None:
    data = {
        "entity": {"table": "t", "key": "id", "fields": {"age": "integer"}},
        "traits": {"older": "age + 'x'"},
    }
    with pytest.raises(SchemaError) as info:
        load_schema(data)
    assert info.value.diagnostic.file == "<trait older>"


def test_load_schema_keeps_warnings() -> None:
    text = MINIMAL + "segments:\n  xx: country = 'XX'\n"
    schema = load_schema(text)
    assert schema.warnings and all(w.severity is not Severity.ERROR for w in schema.warnings)
    w = schema.warnings[0]
    assert (w.line, w.column) == (16, 17)


def test_structure_errors_come_before_checking() -> None:
    text = MINIMAL.replace("age: integer", "age: integr") + "segments:\n  a: agee > 3\n"
    with pytest.raises(SchemaError) as info:
        load_schema(text)
    assert [d.code for d in info.value.diagnostics] == ["schema-bad-type"]


# -- catalogs -------------------------------------------------------------------------

CATALOG = """\
segments:
  vip:
    description: Frequent, high-value customers
    where: purchases >= 5 and total_spent > 1000
    tags: [loyalty]
  lapsed_vip:
    where: in segment vip and last_order > 180d
"""


def test_load_catalog_yaml_and_toml() -> None:
    segs, diags = load_catalog(CATALOG)
    assert diags == [] and list(segs) == ["vip", "lapsed_vip"]
    vip = segs["vip"]
    assert vip.tags == ("loyalty",) and vip.description == "Frequent, high-value customers"
    assert vip.where.file == "<string>" and vip.where.span is not None
    assert (vip.where.span.line, vip.where.span.column) == (4, 12)
    toml = (
        '[segments.vip]\nwhere = "purchases >= 5 and total_spent > 1000"\n'
        'description = "Frequent, high-value customers"\ntags = ["loyalty"]\n'
        "[segments.lapsed_vip]\nwhere = 'in segment vip and last_order > 180d'\n"
    )
    tsegs, tdiags = load_catalog(toml)
    assert tdiags == []
    assert {k: (v.text, v.tags, v.description) for k, v in tsegs.items()} == {
        k: (v.text, v.tags, v.description) for k, v in segs.items()
    }


def test_load_catalog_never_raises() -> None:
    segs, diags = load_catalog("segments: [")
    assert segs == {} and diags[0].code == "config-syntax"
    segs, diags = load_catalog(Path("/nonexistent/catalog.yaml"))
    assert segs == {} and diags[0].code == "config-io"


def test_catalog_segments_are_checked_in_place(tmp_path: Path) -> None:
    schema_file = FIXTURES / "valid" / "contract.yaml"
    cat = tmp_path / "segments.yaml"
    cat.write_text(CATALOG)
    schema = load_schema(schema_file, catalogs=[cat])
    assert set(definitions(schema).segments) == {"vip", "lapsed_vip"}
    cat.write_text(CATALOG.replace("last_order > 180d", "last_ordr > 180d"))
    with pytest.raises(SchemaError) as info:
        load_schema(schema_file, catalogs=[cat])
    d = info.value.diagnostic
    assert (d.file, d.line, d.column) == (str(cat), 7, 31)


def test_duplicate_segments_across_catalogs(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.json"
    a.write_text("segments:\n  one: true\n")
    b.write_text('{"segments": {"one": {"where": "false"}}}')
    with pytest.raises(SchemaError) as info:
        load_schema(FIXTURES / "valid" / "contract.yaml", catalogs=[a, b])
    d = info.value.diagnostic
    assert (d.code, d.file, d.line, d.column) == ("schema-duplicate-name", str(b), 1, 15)
    assert d.hints == (f"it is first defined at {a}:2",)


def test_one_line_documents_are_text_not_paths() -> None:
    assert load_document("entity: contacts.yaml").to_python() == {"entity": "contacts.yaml"}
    assert load_document('a = "b.json"').to_python() == {"a": "b.json"}
    with pytest.raises(SchemaError) as info:
        load_document("missing/schema.yaml")
    assert info.value.code == "config-io"
