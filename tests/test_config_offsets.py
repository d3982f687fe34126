"""Source positions of decoded strings: every character of a value maps to its file offset.

A character maps to the same character in the file, except where decoding made it up: an
escape maps to its backslash, a folded line break (a space or newline in the value) to
the line break in the file, and a YAML ``''`` to its first quote.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from segql.config.document import load_document
from segql.config.nodes import Node
from segql.core.diagnostics import Diagnostic, Span, relocate, render

ALPHABET = st.sampled_from(
    [*"abc xyz  \n\t'\"\\:#-[]{},&*!|>%@`=.é€😀\x07", "  ", "\n  ", " # ", ": ", "\n\n"]
)
TEXTS = st.lists(ALPHABET, max_size=30).map("".join)


def assert_maps(src: str, value: str, offsets: tuple[int, ...] | None) -> None:
    assert offsets is not None
    assert len(offsets) == len(value)
    prev = -1
    for ch, off in zip(value, offsets, strict=True):
        assert off > prev, (src, value, offsets)
        prev = off
        got = src[off] if off < len(src) else "\n"
        assert got == ch or (ch in " \n" and got == "\n") or got == "\\", (
            f"{value!r}: {ch!r} maps to {got!r} at {off} in {src!r}"
        )


def find_string(node: Node) -> Node:
    if node.is_scalar:
        return node
    for child in [v for _, v in node.entries] + list(node.items):
        return find_string(child)
    raise AssertionError("no scalar")


def at(src: str, node: Node, i: int) -> tuple[int, int]:
    """(line, column) of character i of a scalar's value."""
    assert node.offsets is not None
    off = node.offsets[i]
    return src.count("\n", 0, off) + 1, off - (src.rfind("\n", 0, off) + 1) + 1


# ---------------------------------------------------------------------------------------
# YAML, hand-written: exact lines and columns
# ---------------------------------------------------------------------------------------

YAML_CASES: list[tuple[str, str]] = [
    ("k: plain text here\n", "plain text here"),
    ("k: plain\n  continued\n\n  after blank   \n", "plain continued\nafter blank"),
    ("k: 'it''s\n   folded'\n", "it's folded"),
    ('k: "tab\\there \\u00e9 \\x41\\\n    joined"\n', "tab\there é Ajoined"),
    ('k: "line one\n\n    line two"\n', "line one\nline two"),
    ("k: |\n  first\n    indented\n\n  last\n", "first\n  indented\n\nlast\n"),
    ("k: |2-\n    two extra\n  base\n", "  two extra\nbase"),
    ("k: |+  # keep\n  kept\n\n\nnext: 1\n", "kept\n\n\n"),
    ("k: >\n  folded\n  lines\n\n  para\n    more\n  end\n", "folded lines\npara\n  more\nend\n"),
    ("k: >-\n    deep\n    fold\n", "deep fold"),
    ("outer:\n  inner:\n    - |\n      in a list\n      of maps\n", "in a list\nof maps\n"),
    ("k: [a b, 'c''d', \"e\\nf\"]\n", "a b"),
]


@pytest.mark.parametrize(("src", "value"), YAML_CASES)
def test_yaml_styles(src: str, value: str) -> None:
    node = find_string(load_document(src, fmt="yaml"))
    assert node.raw == value
    assert_maps(src, value, node.offsets)


def test_yaml_flow_list_items() -> None:
    src = "k: [a b, 'c''d', \"e\\nf\"]\n"
    items = load_document(src).get("k")
    assert items is not None
    for item, value in zip(items.items, ["a b", "c'd", "e\nf"], strict=True):
        assert item.value == value
        assert_maps(src, value, item.offsets)


def test_yaml_block_literal_columns() -> None:
    src = "traits:\n  big: |\n    sum(orders.amount) > 100\n      and agee > 3\n"
    node = load_document(src).get("traits").get("big")  # type: ignore[union-attr]
    assert node is not None and node.raw is not None
    i = node.raw.index("agee")
    assert at(src, node, i) == (4, 11)
    assert at(src, node, 0) == (3, 5)


def test_yaml_folded_columns() -> None:
    src = "s:\n  vip:\n    where: >\n      country = 'DE' and\n\n      agee > 3\n"
    node = load_document(src).get("s").get("vip").get("where")  # type: ignore[union-attr]
    assert node is not None and node.raw == "country = 'DE' and\nagee > 3\n"
    assert at(src, node, node.raw.index("agee")) == (6, 7)


def test_yaml_double_quoted_escape_columns() -> None:
    src = 'w: "a = \\"x\\"\\t and\n    agee > 1"\n'
    node = load_document(src).get("w")
    assert node is not None and node.raw == 'a = "x"\t and agee > 1'
    assert at(src, node, node.raw.index("agee")) == (2, 5)
    assert at(src, node, node.raw.index('"')) == (1, 9)  # the backslash of \"


@settings(max_examples=400, deadline=None)
@given(
    text=TEXTS,
    style=st.sampled_from([None, "'", '"', "|", ">"]),
    width=st.sampled_from([8, 20, 80]),
    nested=st.booleans(),
    unicode=st.booleans(),
)
def test_yaml_dumped_strings(
    text: str, style: str | None, width: int, nested: bool, unicode: bool
) -> None:
    doc: dict[str, Any] = {"a": {"b": [text]}} if nested else {"k": text}
    src = yaml.dump(doc, default_style=style, width=width, allow_unicode=unicode)
    node = find_string(load_document(src, fmt="yaml"))
    assert node.raw is not None
    assert_maps(src, node.raw, node.offsets)


# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]))
def test_json_strings(text: str, ascii_only: bool, indent: int | None) -> None:
    src = json.dumps({"a": [{"b": text}]}, ensure_ascii=ascii_only, indent=indent)
    node = find_string(load_document(src, fmt="json"))
    assert node.value == text
    assert_maps(src, text, node.offsets)


def test_json_surrogate_pair_is_one_character() -> None:
    src = '{"k": "a\\ud83d\\ude00b"}'
    node = load_document(src).get("k")
    assert node is not None and node.value == "a😀b"
    assert node.offsets == (7, 8, 20)


# ---------------------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------------------


def _toml_basic(s: str, rnd: random.Random, multiline: bool) -> str:
    out = []
    for i, ch in enumerate(s):
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\n" if multiline and rnd.random() < 0.7 else "\\n")
        elif ch == "\t":
            out.append(rnd.choice(["\t", "\\t"]))
        elif ord(ch) > 127 and rnd.random() < 0.5:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
        if multiline and s[i + 1 : i + 2] not in ("", " ", "\t", "\n") and rnd.random() < 0.1:
            out.append("\\\n   \n  ")  # a line-ending backslash eats the whitespace after it
    body = "".join(out)
    lead = "\n" if body.startswith("\n") else rnd.choice(["", "\n"])  # one is trimmed
    return f'"""{lead}{body}"""' if multiline else f'"{body}"'


def _toml_string(s: str, rnd: random.Random) -> str:
    forms = [lambda: _toml_basic(s, rnd, False), lambda: _toml_basic(s, rnd, True)]
    if "'" not in s and "\n" not in s and all(c >= " " or c == "\t" for c in s):
        forms.append(lambda: f"'{s}'")
    if "'''" not in s and not s.endswith("'") and all(c >= " " or c in "\t\n" for c in s):
        lead = "\n" if s.startswith("\n") else rnd.choice(["", "\n"])
        forms.append(lambda: "'''" + lead + s + "'''")
    return rnd.choice(forms)()


TOML_LAYOUTS = [
    "a = V\n",
    "[t.u]\nx = 1\nk = V\n",
    "t = {k = V}\n",
    "t.k = V # comment\n",
    "a = [1, V,\n]\n",
    '[[q]]\n"k" = V\n',
]


@settings(max_examples=400, deadline=None)
@given(text=TEXTS, seed=st.integers(0, 2**32), layout=st.sampled_from(TOML_LAYOUTS))
def test_toml_strings(text: str, seed: int, layout: str) -> None:
    text = text.replace("\x7f", "")
    src = layout.replace("V", _toml_string(text, random.Random(seed)))
    node = load_document(src, fmt="toml")

    def strings(n: Node) -> list[Node]:
        if n.is_scalar:
            return [n] if isinstance(n.value, str) else []
        return [s for _, v in n.entries for s in strings(v)] + [
            s for i in n.items for s in strings(i)
        ]

    (found,) = strings(node)
    assert found.value == text
    assert_maps(src, text, found.offsets)


def test_toml_positions_of_tables_keys_and_values() -> None:
    src = (
        "timezone = 'UTC'\n"
        "[entity]\n"
        'table = "contacts"\n'
        "[entity.fields]\n"
        'country = { type = "string", values = ["DE", "FR"] }\n'
        "[events.orders]\n"
        'fields.amount = "decimal"\n'
        'where = """\n'
        "amount > 3 and \\\n"
        '    category = \\"x\\""""\n'
    )
    doc = load_document(src, fmt="toml")
    entity, events = doc.entry("entity"), doc.get("events")
    assert entity is not None and events is not None
    assert (entity[0].span.line, entity[0].span.column) == (2, 2)  # type: ignore[union-attr]
    country = entity[1].get("fields").get("country")  # type: ignore[union-attr]
    assert country is not None and country.span is not None
    assert (country.span.line, country.span.column) == (5, 11)
    values = country.get("values")
    assert values is not None and values.items[1].span is not None
    assert values.items[1].span.column == 46
    orders = events.get("orders")
    assert orders is not None
    amount = orders.get("fields").get("amount")  # type: ignore[union-attr]
    assert amount is not None and amount.span is not None and amount.span.line == 7
    where = orders.get("where")
    assert where is not None and where.value == 'amount > 3 and category = "x"'
    assert at(src, where, where.value.index("category")) == (10, 5)
    assert at(src, where, 0) == (9, 1)


def test_toml_scalars_of_every_kind() -> None:
    src = 'a = 1979-05-27T07:32:00Z\nb = [1, 2.5, true, 0x1f, inf]\nc = { d = { e = "f" } }\n'
    assert load_document(src, fmt="toml").to_python()["c"] == {"d": {"e": "f"}}


# ---------------------------------------------------------------------------------------
# Relocation and rendering
# ---------------------------------------------------------------------------------------


def test_render_of_a_diagnostic_in_a_yaml_block_string() -> None:
    src = "segments:\n  vip:\n    where: |\n      purchases > 3\n        and agee > 30\n"
    node = load_document(src, name="catalog.yaml").get("segments").get("vip").get("where")  # type: ignore[union-attr]
    assert node is not None and node.raw is not None
    start = node.raw.index("agee")
    inner = Diagnostic(
        code="unknown-name",
        message="unknown name `agee`",
        span=Span(start=start, end=start + 4, line=2, column=7, end_line=2, end_column=11),
    )
    loc = node.located()
    moved = relocate(inner, file=loc.file, text=loc.text, offsets=loc.offsets)
    assert (moved.line, moved.column, moved.end_column) == (5, 13, 17)
    assert render(moved).splitlines() == [
        "catalog.yaml:5:13: error[unknown-name]: unknown name `agee`",
        "   5 |         and agee > 30",
        "     |             ^~~~",
    ]
