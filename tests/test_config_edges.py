"""Loading edge cases (issue 9): empty catalogs, hostile numbers, YAML tags and anchors,
lone surrogates, non-UTF-8 files. Every problem is a positioned SchemaError whose
rendering encodes as UTF-8."""

from __future__ import annotations

from pathlib import Path

import pytest

from segql.config.document import load_document
from segql.config.loader import load_catalog, load_schema
from segql.core.diagnostics import SchemaError, render

CONTRACT = Path(__file__).parent / "fixtures" / "schema" / "valid" / "contract.yaml"
ENTITY_JSON = '{"entity": {"table": "c", "key": "id", "fields": {"age": "integer"}}%s}'


def refused(source: str | dict[str, object], *, catalog: bool = False) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        if catalog:
            load_schema(CONTRACT, catalogs=[source])
        else:
            load_schema(source)
    for d in info.value.diagnostics:
        render(d).encode("utf-8")  # prints on a UTF-8 terminal
        render(d, color=True).encode("utf-8")
    return info.value


# -- item 12: an empty catalog is a catalog -------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("c.yaml", ""),
        ("c.yaml", "# nothing yet\n"),
        ("c.yaml", "segments: {}\n"),
        ("c.yaml", "segments:\n"),
        ("c.yaml", "segments: ~  # none yet\n"),
        ("c.toml", ""),
        ("c.toml", "[segments]\n"),
        ("c.json", ""),
        ("c.json", '{"segments": {}}'),
        ("c.json", '{"segments": null}'),
    ],
)
def test_empty_catalogs_are_valid(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert load_catalog(path) == ({}, [])
    schema = load_schema(CONTRACT, catalogs=[path])
    assert schema.segments == {}


def test_a_catalog_with_other_keys_but_no_segments_is_still_an_error() -> None:
    segs, diags = load_catalog("timezone: UTC\n")
    assert segs == {} and {d.code for d in diags} == {"schema-unknown-key", "schema-missing-key"}


def test_empty_optional_schema_sections() -> None:
    text = "entity: {table: c, key: id, fields: {age: integer}}\nevents:\ntraits:\nsegments:\n"
    schema = load_schema(text)
    assert (schema.streams, schema.traits, schema.segments) == ({}, {}, {})


# -- item 19: hostile schema files -------------------------------------------------------


def test_a_5000_digit_number_in_json() -> None:
    text = ENTITY_JSON % (', "x": ' + "1" * 5000)
    d = refused(text).diagnostic
    assert d.code == "config-syntax" and "5,000 digits is too long" in d.message
    assert (d.line, d.column) == (1, text.index('"x"') + 6)


def test_a_5000_digit_number_in_toml() -> None:
    text = '[entity]\ntable = "c"\nkey = "id"\nx = ' + "1" * 5000 + "\n"
    d = refused(text).diagnostic
    assert d.code == "config-syntax" and "5,000 digits" in d.message
    assert (d.line, d.column) == (4, 5)


def test_a_5000_digit_number_in_yaml_is_text() -> None:
    doc = load_document("x: " + "1" * 5000 + "\n")
    assert doc.get("x").string() == "1" * 5000  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("entity:\n  table: !!timestamp foo\n", "`foo` is not a valid !!timestamp value", 2, 22),
        ("entity:\n  table: !!bool maybe\n", "`maybe` is not a valid !!bool value", 2, 17),
        ("entity:\n  table: !!int x1\n", "`x1` is not a valid !!int value", 2, 16),
        ("entity:\n  table: !!float abc\n", "`abc` is not a valid !!float value", 2, 18),
        ("entity:\n  ? !!timestamp foo\n  : x\n", "`foo` is not a valid !!timestamp", 2, 17),
        ("entity:\n  !!bool maybe: x\n", "`maybe` is not a valid !!bool", 2, 10),
        ("entity:\n  table: !Ref contacts\n", "unknown tag `!Ref`", 2, 15),
        ("entity:\n  table: !!python/name:os.system x\n", "unknown tag `!!python/", 2, 34),
    ],
)
def test_bad_yaml_tags_are_positioned_errors(
    text: str, message: str, line: int, column: int
) -> None:
    d = refused(text).diagnostic
    assert d.code == "config-syntax" and message in d.message
    assert (d.line, d.column) == (line, column)


def test_valid_tags_and_anchors_still_work() -> None:
    doc = load_document("a: !!str 3\nb: &x !!int 4\nc: *x\nd: ! plain\n")
    assert doc.to_python() == {"a": "3", "b": 4, "c": 4, "d": "plain"}
    b = doc.get("b")
    assert b is not None and b.span is not None and b.span.column == 13  # after `&x !!int `


def test_anchored_values_are_positioned_at_their_content() -> None:
    text = "entity: {table: c, key: id, fields: {age: integer}}\ntraits:\n  t: &e age >\n"
    d = refused(text).diagnostic
    assert d.code == "syntax" and (d.line, d.column) == (3, 14)


@pytest.mark.parametrize(
    "source",
    [
        ENTITY_JSON.replace("age", "a\\ud800ge") % "",  # in a name
        ENTITY_JSON.replace("integer", "integ\\udc00er") % "",  # in a value
        'entity:\n  table: "c\\ud800"\n',  # a YAML escape
        "entity:\n  table: c\ud800\n",  # a str built in Python
    ],
)
def test_lone_surrogates_are_refused_and_printable(source: str) -> None:
    d = refused(source).diagnostic
    assert d.code == "config-syntax" and "lone surrogate U+D" in d.message
    at = source.index("\\u") if "\\u" in source else source.index("\ud800")
    assert d.start == at and d.end == at + (6 if "\\u" in source else 1)


def test_lone_surrogates_in_a_dict() -> None:
    e = refused({"entity": {"table": "c", "key": "id", "fields": {"a\udfff": "integer"}}})
    assert "lone surrogate U+DFFF" in e.diagnostic.message


def test_lone_surrogates_in_a_catalog_segment_name(tmp_path: Path) -> None:
    cat = tmp_path / "c.json"
    cat.write_text('{"segments": {"v\\ud800": "true"}}')
    e = refused(cat, catalog=True)  # type: ignore[arg-type]
    assert e.diagnostic.file == str(cat) and e.diagnostic.column == 17


def test_non_utf8_files_are_positioned_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"entity:\n  table: caf\xe9\n")
    d = refused(path).diagnostic  # type: ignore[arg-type]
    assert d.code == "config-io" and d.file == str(path)
    assert "byte 0xe9 on line 2, column 13 cannot be decoded" in d.message
    assert (d.line, d.column) == (2, 13)
    assert "   2 |   table: caf\ufffd" in render(d)
    utf16 = tmp_path / "u.json"
    utf16.write_bytes('{"segments": {}}'.encode("utf-16"))
    segs, diags = load_catalog(utf16)
    assert segs == {} and diags[0].hints == ("the file is UTF-16: save it as UTF-8",)


@pytest.mark.parametrize(
    "text",
    [  # (a low surrogate before a high one is no pair)
        'entity:\n  fields:\n    "\\udc00\\ud800": integer\n    "\\udc00\\ud800": integer\n',
        '{"a\\ud800": 1, "a\\ud800": 2}',
    ],
)
def test_messages_quoting_a_name_with_surrogates_still_print(text: str) -> None:
    e = refused(text)  # `refused` renders every diagnostic as UTF-8
    assert [d.code for d in e.diagnostics][-1] == "duplicate-key"
    assert "\ufffd" in e.diagnostics[-1].message


def test_yaml_surrogate_pair_escapes_are_one_character() -> None:
    # YAML is a superset of JSON: "\ud83d\ude00" is 😀 there too, and positions stay exact.
    text = 'entity: {table: c, key: id, fields: {age: integer}}\ntraits:\n  t: "\\ud83d\\ude00 >"\n'
    d = refused(text).diagnostic
    assert d.code == "syntax" and (d.line, d.column) == (3, 7)  # at the escape, not past it
    doc = load_document('a: "x\\ud83d\\ude00y"\n')
    a = doc.get("a")
    assert a is not None and a.value == "x\U0001f600y" and a.offsets == (4, 5, 17)


def test_a_tagged_value_with_a_surrogate_prints() -> None:
    e = refused('entity:\n  table: c\n  key: !!int "0\\ud800"\n')
    assert [d.code for d in e.diagnostics] == ["config-syntax", "config-syntax"]
