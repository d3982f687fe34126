"""Checking the definitions inside a schema: traits, stream filters, segments."""

from __future__ import annotations

import dataclasses

import pytest
from shop_schema import shop_schema

from segql.checker import check, check_schema, typed
from segql.core.diagnostics import CheckError
from segql.core.schema import Located, SegmentDef, TraitDef
from segql.ir import nodes as ir
from segql.ir.definitions import definitions


def test_trait_cycle_is_an_error() -> None:
    schema = shop_schema()
    schema = dataclasses.replace(
        schema,
        traits={
            **schema.traits,
            "a": TraitDef(name="a", text="b + 1"),
            "b": TraitDef(name="b", text="a * 2"),
        },
    )
    diags = check_schema(schema)
    codes = [d.code for d in diags]
    assert "cycle" in codes
    msg = next(d.message for d in diags if d.code == "cycle")
    assert "a -> b -> a" in msg or "b -> a -> b" in msg


@pytest.mark.parametrize(
    "text",
    [
        "count(orders where amount > above) + 1",  # a name in an event condition (§5.3)
        "count(orders where amount > contact.above)",
        "count(orders where has orders where amount > above)",
    ],
)
def test_trait_cycle_through_an_event_condition(text: str) -> None:
    schema = shop_schema()
    schema = dataclasses.replace(
        schema, traits={**schema.traits, "above": TraitDef(name="above", text=text)}
    )
    assert "cycle" in [d.code for d in check_schema(schema)]


def test_a_stream_field_shadows_a_trait_in_an_event_condition() -> None:
    schema = shop_schema()
    schema = dataclasses.replace(
        schema,
        traits={**schema.traits, "amount": TraitDef(name="amount", text="sum(orders.amount)")},
    )
    out = typed("count(orders where amount > 5) > 0", schema)
    assert isinstance(out, ir.Compare) and isinstance(out.left, ir.Agg)
    where = out.left.where
    assert isinstance(where, ir.Compare) and isinstance(where.left, ir.EventField)
    out = typed("count(orders where contact.amount > 5) > 0", schema)
    assert isinstance(out, ir.Compare) and isinstance(out.left, ir.Agg)
    where = out.left.where
    assert isinstance(where, ir.Compare) and isinstance(where.left, ir.Agg)


def test_segment_cycle_is_an_error() -> None:
    schema = shop_schema()
    schema = dataclasses.replace(
        schema,
        segments={
            "x": SegmentDef(name="x", text="in segment y"),
            "y": SegmentDef(name="y", text="age > 3 and in segment x"),
        },
    )
    diags = check_schema(schema)
    assert any(d.code == "cycle" and "segments" in d.message for d in diags)


def test_broken_trait_reported_in_its_file_position() -> None:
    text = "traits:\n  big: sum(orders.amont) > 3\n"
    start = text.index("sum")
    src = "sum(orders.amont) > 3"
    where = Located(file="schema.yaml", text=text, offsets=tuple(range(start, start + len(src))))
    schema = shop_schema()
    schema = dataclasses.replace(
        schema,
        traits={**schema.traits, "big": TraitDef(name="big", text=src, where=where)},
    )
    diags = check_schema(schema)
    d = next(d for d in diags if d.code == "unknown-name")
    assert (d.file, d.line, d.column, d.end_column) == ("schema.yaml", 2, 12, 24)
    assert d.source == text
    assert "did you mean `amount`?" in d.hints


def test_broken_trait_use_is_reported_once_more_at_the_use() -> None:
    schema = shop_schema()
    schema = dataclasses.replace(
        schema,
        traits={**schema.traits, "bad": TraitDef(name="bad", text="nope + 1")},
    )
    diags = check("bad > 3", schema)
    assert [d.code for d in diags] == ["unknown-name", "broken-trait"]


def test_stream_filter_is_typed_and_cached() -> None:
    schema = shop_schema()
    f = definitions(schema).filters["email_opens"]
    assert isinstance(f, ir.Compare)
    assert isinstance(f.left, ir.EventField) and f.left.column == "type"


def test_stream_filter_errors() -> None:
    schema = shop_schema()
    opens = dataclasses.replace(schema.streams["email_opens"], filter_text="typo = 'open'")
    schema = dataclasses.replace(schema, streams={**schema.streams, "email_opens": opens})
    diags = check_schema(schema)
    assert [d.code for d in diags] == ["unknown-name"]
    assert diags[0].file == "<stream email_opens>"


def test_typed_raises_with_every_error() -> None:
    with pytest.raises(CheckError) as info:
        typed("purchses > 3 and countri = 'DE' and orders > 1", shop_schema())
    assert [d.code for d in info.value.diagnostics] == [
        "unknown-name",
        "unknown-name",
        "misplaced-stream",
    ]


def test_warnings_do_not_block_typing() -> None:
    out = typed("country = 'de'", shop_schema())
    assert isinstance(out, ir.Compare)


def test_age_comparisons_are_rewritten() -> None:
    schema = shop_schema()
    lt = typed("last_order < 30d", schema)
    assert isinstance(lt, ir.Compare) and lt.op is ir.CmpOp.GT
    assert isinstance(lt.right, ir.Ago)
    gt = typed("30d <= last_order", schema)  # flipped: age >= 30d
    assert isinstance(gt, ir.Compare) and gt.op is ir.CmpOp.LE


def test_dates_widen_to_timestamps() -> None:
    out = typed("birthday < signup_at", shop_schema())
    assert isinstance(out, ir.Compare)
    assert isinstance(out.left, ir.DateToTimestamp)


def test_naive_timestamp_literal_uses_schema_timezone() -> None:
    out = typed("signup_at > 2024-01-01T00:00:00", shop_schema("Europe/Berlin"))
    assert isinstance(out, ir.Compare) and isinstance(out.right, ir.Lit)
    assert str(out.right.value) == "2023-12-31 23:00:00+00:00"


def test_checking_leaves_the_schema_unchanged() -> None:
    """A schema is plain data: the typed trees live beside it (segql.ir.definitions)."""
    import gc

    from shop_schema import shop_schema

    from segql.ir.definitions import _BY_SCHEMA, definitions

    schema = shop_schema()
    before = repr(schema)
    assert check_schema(schema) == []
    typed("in segment lapsed_vip and purchases > 1", schema)
    assert repr(schema) == before
    assert set(definitions(schema).segments) == {"vip", "lapsed_vip", "buyers"}
    key = id(schema)
    del schema
    gc.collect()
    assert key not in _BY_SCHEMA  # dropped with the schema
