"""Segmentations (CONTRACT §6.1): ordered classes read from schema and catalog files,
checked, and usable as string values. Their members on every engine are in the corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import segql

SCHEMA: dict[str, Any] = {
    "entity": {"table": "contacts", "key": "id", "fields": {"age": "integer"}},
    "events": {"orders": {"table": "orders", "key": "contact_id", "time": "at",
                          "fields": {"amount": "decimal"}}},
    "traits": {"purchases": "count(orders)"},
}  # fmt: skip


def _schema(segmentations: Any, **more: Any) -> segql.Schema:
    return segql.load_schema({**SCHEMA, **more, "segmentations": segmentations})


def _errors(segmentations: Any, **more: Any) -> list[tuple[str, str]]:
    with pytest.raises(segql.SchemaError) as info:
        _schema(segmentations, **more)
    return [(d.code, d.message) for d in info.value.diagnostics]


def test_a_segmentation_is_a_string_value_of_its_first_matching_class() -> None:
    schema = _schema(
        {
            "buyer": {
                "description": "by orders",
                "classes": {"many": "purchases >= 3", "some": "purchases >= 1"},
                "otherwise": "none",
            }
        }
    )
    sg = schema.segmentations["buyer"]
    assert [c.name for c in sg.classes] == ["many", "some"] and sg.otherwise == "none"
    assert sg.values == ("many", "some", "none")
    order = {"at": "2026-01-01T00:00:00Z", "amount": 1}
    import datetime as dt

    order["at"] = dt.datetime(2026, 1, 1)
    for n, want in ((0, "none"), (1, "some"), (3, "many"), (5, "many")):
        events = {"orders": [order] * n}
        assert segql.matches(f"buyer = '{want}'", schema, contact={"id": 1}, events=events)
    assert segql.check("buyer = 'manny'", schema)[0].code == "unknown-value"


def test_without_otherwise_the_rest_is_null() -> None:
    schema = _schema({"band": {"classes": {"young": "age < 30"}}})
    assert segql.matches("band is null", schema, contact={"id": 1, "age": 40})
    assert segql.matches("band is null", schema, contact={"id": 1, "age": None})
    assert segql.matches("band = 'young'", schema, contact={"id": 1, "age": 20})


@pytest.mark.parametrize(
    ("segmentations", "code", "words"),
    [
        ({"s": {"classes": {}}}, "schema-missing-key", "has no `classes:`"),
        ({"s": {}}, "schema-missing-key", "has no `classes:`"),
        ({"s": "age > 3"}, "schema-bad-value", "must be a mapping with `classes:`"),
        ({"s": {"classes": ["a"]}}, "schema-bad-value", "ordered mapping"),
        ({"s": {"classes": {"": "age > 3"}}}, "schema-bad-name", "cannot be empty"),
        ({"s": {"classes": {"a": "age > 3"}, "otherwise": "a"}}, "schema-duplicate-name",
         "also one of its classes"),
        ({"s": {"classes": {"a": "age > 3"}, "colour": 1}}, "schema-unknown-key", "colour"),
        ({"s": {"classes": {"a": "age + 1"}}}, "not-boolean",
         "a class must be a condition"),
        ({"s": {"classes": {"a": "s = 'b'"}}}, "cycle", "segmentation"),
        ({"age": {"classes": {"a": "true"}}}, "schema-duplicate-name",
         "same name as profile field"),
        ({"purchases": {"classes": {"a": "true"}}}, "schema-duplicate-name",
         "same name as trait"),
    ],
)  # fmt: skip
def test_mistakes_are_reported(segmentations: Any, code: str, words: str) -> None:
    found = _errors(segmentations)
    assert any(c == code and words in m for c, m in found), found


def test_a_class_that_can_never_match_is_a_warning() -> None:
    schema = _schema(
        {
            "s": {
                "classes": {"all": "true", "later": "age > 3"},
            },
            "t": {"classes": {"a": "age > 3", "b": "age >  3", "c": "age < 3"}},
        }
    )
    warned = [(d.code, d.message) for d in schema.warnings]
    assert ("unreachable-class", "class `later` of `s` can never match: every contact it "
            "would take is already in class `all`") in warned  # fmt: skip
    assert any("class `b` of `t`" in m for _, m in warned)
    assert not any("class `c`" in m for _, m in warned)


def test_catalogs_hold_segmentations_too(tmp_path: Path) -> None:
    catalog = tmp_path / "classes.yaml"
    catalog.write_text(
        "segmentations:\n"
        "  buyer:\n"
        "    classes:\n"
        "      many: purchases >= 3\n"
        "      some: purchases >= 1\n"
        "segments:\n"
        "  many_buyers:\n"
        "    where: buyer = 'many'\n",
        encoding="utf-8",
    )
    schema = segql.load_schema(SCHEMA, catalogs=[catalog])
    assert "buyer" in schema.segmentations and "many_buyers" in schema.segments
    twice = tmp_path / "again.yaml"
    twice.write_text("segmentations:\n  buyer:\n    classes: {x: age > 1}\n", encoding="utf-8")
    with pytest.raises(segql.SchemaError) as info:
        segql.load_schema(SCHEMA, catalogs=[catalog, twice])
    (d,) = info.value.diagnostics
    assert d.code == "schema-duplicate-name" and d.line == 2 and d.file == str(twice)


def test_an_error_in_a_class_points_into_the_file(tmp_path: Path) -> None:
    catalog = tmp_path / "classes.yaml"
    catalog.write_text(
        "segmentations:\n  buyer:\n    classes:\n      many: purchses >= 3\n", encoding="utf-8"
    )
    with pytest.raises(segql.SchemaError) as info:
        segql.load_schema(SCHEMA, catalogs=[catalog])
    d = info.value.diagnostics[0]
    assert (d.code, d.file, d.line, d.column) == ("unknown-name", str(catalog), 4, 13)
