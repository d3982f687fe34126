"""Fuzzing schema and catalog documents (issue 9): random and hostile YAML, TOML and JSON
text — extreme numbers, tags, anchors and aliases, byte order marks, CRLF, NUL, lone
surrogates, deep nesting, huge keys — fed to ``load_schema``, ``load_catalog`` and
``fmtfiles.format_text``. Only ``SegqlError`` may escape (never code ``internal``), every
diagnostic prints as UTF-8, and formatting twice changes nothing the second time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql.config.editing import format_text
from segql.config.loader import load_catalog, load_schema
from segql.config.nodes import Format
from segql.core.diagnostics import SegqlError, render

EXPRESSIONS = [
    "age>3",
    "age > 3 and purchases >= 1",
    "age>3 # a comment",
    "# only a comment\nage > 3",
    "email = 'it''s: #1'",
    'email = "say \\"hi\\""',
    "`first name` = 'é' or `by` is null",
    "country in ['DE','AT', 'CH']",
    "has orders where amount > 50 within 30d",
    "count(orders where category = 'shoes' within 90d) >= 2",
    "last_order < 30d and not has orders within 7d",
    " and ".join(f"age > {i}" for i in range(15)),
    "age > " + "9" * 5000,
    "age > 1" + "0" * 400 + ".5",
    "email = '\\u0085\\u2028\\u007f\\t'",
    "email = '\u2028'",
    "email = '\x85'",
    "email = '👩‍👩‍👧 🇩🇪'",
    "email = '\x00'",
    "age >",
    "((((age > 1))))",
    "age between 1 and 2",
    "in segment other",
    "`we\\`ird` > 1",
    "",
    "   ",
    "age > 3\n\n  and\n    purchases > 1\n",
    "age\t>\t3",
    "email = '\\ud800'",
]

SCALARS = [
    "0",
    "-0",
    "1e400",
    "-1e400",
    ".inf",
    ".nan",
    "0x" + "f" * 300,
    "1" * 5000,
    "1_000",
    "true",
    "maybe",
    "null",
    "~",
    "2026-13-45",
    "2026-06-01T12:00:00Z",
    "x" * 20_000,
    "é",
    "\u2028",
]

YAML_TAGS = [
    *("", "!!str ", "!!int ", "!!bool ", "!!timestamp ", "!!float ", "!!null ", "!!binary "),
    *("!foo ", "! ", "!<tag:yaml.org,2002:str> ", "!!python/name:os.system "),
]

# Characters YAML takes raw; control characters and surrogates come from the mutations.
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufeff")
names = st.one_of(
    st.sampled_from(["vip", "a", "by", "first name", "é", "x" * 5000, "", "3", "true", "a\x85b"]),
    st.text(PRINTABLE, min_size=0, max_size=12),
)
# Mostly plausible expressions: known ones, and soups of segql's own characters.
exprs = st.one_of(
    st.sampled_from(EXPRESSIONS),
    st.text(alphabet="age purchases>=<3 and or not()'\"#\n`é\\[],.:-|", max_size=40),
    st.text(PRINTABLE, max_size=20),
)
scalars = st.one_of(st.sampled_from(SCALARS), st.text(PRINTABLE, max_size=20))


def yaml_key(name: str, quoted: bool) -> str:
    simple = name.replace(" ", "").isalnum() and name.isascii()
    return name if simple and not quoted else json.dumps(name)


# -- YAML ---------------------------------------------------------------------------------


def _yaml_quote(s: str, style: str, indent: int) -> str:
    pad = " " * indent
    match style:
        case "plain":
            return s
        case "single":
            return "'" + s.replace("'", "''") + "'"
        case "double":
            return json.dumps(s, ensure_ascii=style == "double" and len(s) % 2 == 0)
        case "block" | "block-strip" | "folded":
            head = {"block": "|", "block-strip": "|-", "folded": ">"}[style]
            return head + "\n" + "\n".join(pad + "  " + ln for ln in s.split("\n"))
    raise AssertionError(style)


styles = st.sampled_from(["plain", "single", "double", "block", "block-strip", "folded"])


@st.composite
def yaml_catalogs(draw: Any) -> str:
    lines = ["segments:"]
    anchors: list[str] = []
    for i, name in enumerate(draw(st.lists(names, max_size=5, unique=True))):
        key = yaml_key(name, draw(st.booleans()))
        expr = draw(exprs)
        tag = draw(st.sampled_from(YAML_TAGS)) if draw(st.integers(0, 7)) == 0 else ""
        anchor = ""
        kind = draw(st.sampled_from(["short", "map", "flow", "alias", "merge"]))
        if kind in ("short", "map", "flow") and draw(st.integers(0, 3)) == 0:
            anchor = f"&a{i} "
            anchors.append(f"a{i}")
        if kind == "alias" and anchors:
            lines.append(f"  {key}: *{draw(st.sampled_from(anchors))}")
        elif kind == "merge" and anchors:
            lines.append(f"  {key}: {{<<: *{draw(st.sampled_from(anchors))}}}")
        elif kind == "flow":
            value = _yaml_quote(expr, draw(st.sampled_from(["plain", "single", "double"])), 4)
            lines.append(f"  {key}: {anchor}{{where: {tag}{value}, description: d}}")
        elif kind == "map":
            lines.append(f"  {key}:")
            lines.append(f"    where: {anchor}{tag}{_yaml_quote(expr, draw(styles), 4)}")
            if draw(st.booleans()):
                lines.append(f"    description: {draw(scalars)}  # note")
        else:
            lines.append(f"  {key}: {anchor}{tag}{_yaml_quote(expr, draw(styles), 2)}")
    if draw(st.booleans()):
        lines.append(f"extra: {draw(st.sampled_from(YAML_TAGS))}{draw(scalars)}")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n# end\n"]))


@st.composite
def yaml_schemas(draw: Any) -> str:
    tag = draw(st.sampled_from(YAML_TAGS))
    fields = "\n".join(
        f"    {yaml_key(draw(names), draw(st.booleans()))}: "
        f"{draw(st.sampled_from(['integer', 'string', 'list<string>', 'integr']))}"
        for _ in range(draw(st.integers(0, 3)))
    )
    traits = "\n".join(
        f"  {draw(st.sampled_from(['t', 'u', 'purchases']))}: "
        f"{_yaml_quote(draw(exprs), draw(styles), 2)}"
        for _ in range(draw(st.integers(0, 2)))
    )
    return (
        f"timezone: {draw(st.sampled_from(['UTC', 'Europe/Berlin', 'Mars/Base', '']))}\n"
        f"entity:\n  table: {tag}{draw(scalars)}\n  key: id\n  fields:\n"
        f"    age: integer\n    email: string\n{fields}\n"
        f"events:\n  orders:\n    table: orders\n    key: contact_id\n    time: at\n"
        f"    fields: {{amount: decimal, category: string}}\n"
        f"traits:\n{traits}\n"
        f"{draw(yaml_catalogs())}"
    )


# -- TOML and JSON ------------------------------------------------------------------------


@st.composite
def toml_catalogs(draw: Any) -> str:
    parts = []
    for raw_name in draw(st.lists(names, max_size=4, unique=True)):
        name = json.dumps(raw_name, ensure_ascii=False)
        expr = draw(exprs)
        quoted = draw(
            st.sampled_from(
                [
                    json.dumps(expr, ensure_ascii=False),
                    "'" + expr.replace("'", "") + "'",
                    '"""\n' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"""',
                    "'''" + expr.replace("'", "") + "'''",
                ]
            )
        )
        if draw(st.booleans()):
            parts.append(f"[segments.{name}]\nwhere = {quoted}\n")
        else:
            parts.append(f"[segments]\n{name} = {quoted}\n")
    if draw(st.booleans()):
        number = draw(st.sampled_from(["1" * 5000, "1e400", "inf", "0x" + "f" * 99]))
        parts.append(f"x = {number}\n")
    return "".join(parts[:1] + [p.removeprefix("[segments]\n") for p in parts[1:]])


@st.composite
def json_catalogs(draw: Any) -> str:
    segs = []
    for raw_name in draw(st.lists(names, max_size=4, unique=True)):
        name = json.dumps(raw_name, ensure_ascii=draw(st.booleans()))
        where = json.dumps(draw(exprs), ensure_ascii=draw(st.booleans()))
        segs.append(f'{name}: {{"where": {where}}}' if draw(st.booleans()) else f"{name}: {where}")
    extra = draw(st.sampled_from(["", ', "x": ' + "1" * 5000, ', "y": 1e400', ', "z": -0.0']))
    return '{"segments": {' + ", ".join(segs) + "}" + extra + "}"


# -- hostile byte-level mutations ---------------------------------------------------------


@st.composite
def mutated(draw: Any, base: st.SearchStrategy[str]) -> str:
    text: str = draw(base)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        op = draw(st.sampled_from(["bom", "crlf", "some-crlf", "cr", "nul", "surrogate",
                                   "insert", "deep", "huge-key", "tab", "truncate"]))  # fmt: skip
        pos = draw(st.integers(0, len(text)))
        match op:
            case "bom":
                text = "\ufeff" + text
            case "crlf":
                text = text.replace("\n", "\r\n")
            case "some-crlf":
                text = text[:pos] + text[pos:].replace("\n", "\r\n", 1)
            case "cr":
                text = text[:pos] + "\r" + text[pos:]
            case "nul":
                text = text[:pos] + "\x00" + text[pos:]
            case "surrogate":
                text = text[:pos] + "\ud83d" + text[pos:]
            case "insert":
                text = text[:pos] + draw(st.text(max_size=5)) + text[pos:]
            case "deep":
                n = draw(st.sampled_from([50, 1000, 100_000]))
                text = text + "\nd: " + "[" * n + "]" * n + "\n"
            case "huge-key":
                text = text + "\n" + "k" * 100_000 + ": 1\n"
            case "tab":
                text = text[:pos] + "\t" + text[pos:]
            case "truncate":
                text = text[:pos]
    return text


documents = st.one_of(
    st.tuples(mutated(yaml_catalogs()), st.just("yaml")),
    st.tuples(mutated(yaml_schemas()), st.just("yaml")),
    st.tuples(mutated(toml_catalogs()), st.just("toml")),
    st.tuples(mutated(json_catalogs()), st.just("json")),
    st.tuples(st.text(max_size=100), st.sampled_from(["yaml", "toml", "json"])),
)

SCHEMA = """\
entity:
  table: contacts
  key: id
  fields: {age: integer, email: string, "first name": string, by: string, country: string}
events:
  orders:
    table: orders
    key: contact_id
    time: at
    fields: {amount: decimal, category: string}
traits:
  purchases: count(orders)
  last_order: last(orders)
segments:
  other: age > 1
"""


def printable(e: SegqlError) -> None:
    assert e.diagnostics
    for d in e.diagnostics:
        assert d.code != "internal", render(d)
        render(d).encode("utf-8")
        render(d, color=True).encode("utf-8")
        d.to_json().encode("utf-8")


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(documents)
def test_load_schema_raises_only_segql_errors(doc: tuple[str, Format]) -> None:
    text, _ = doc
    try:
        load_schema(text)
    except SegqlError as e:
        printable(e)


@FUZZ
@given(documents)
def test_catalogs_load_or_report(doc: tuple[str, Format]) -> None:
    text, _ = doc
    _, diags = load_catalog(text)  # documented never to raise
    for d in diags:
        render(d).encode("utf-8")
    try:
        load_schema(SCHEMA, catalogs=[text])
    except SegqlError as e:
        printable(e)


@FUZZ
@given(documents)
def test_format_text_is_safe_and_idempotent(doc: tuple[str, Format]) -> None:
    text, fmt = doc
    try:
        once = format_text(text, name="f", fmt=fmt)
    except SegqlError as e:
        printable(e)
        return
    assert format_text(once, name="f", fmt=fmt) == once
    if once != text:  # only expression values changed: the rest keeps its bytes
        assert once.startswith("\ufeff") == text.startswith("\ufeff")
        assert ("\r\n" in once) == ("\r\n" in text)


@pytest.mark.parametrize("fmt", ["yaml", "toml", "json"])
@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "a: " + "{b: " * 20_000 + "1" + "}" * 20_000,
        "a = " + "[" * 20_000 + "]" * 20_000,
        '{"a": ' * 20_000 + "1" + "}" * 20_000,
        "segments:\n" + "".join(f"  s{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 60)),
        "a: &a [" + ", ".join(["x"] * 9) + "]\nb: &b [" + ", ".join(["*a"] * 9) + "]\n"
        "c: &c [" + ", ".join(["*b"] * 9) + "]\nd: &d [" + ", ".join(["*c"] * 9) + "]\n"
        "segments: {e: [" + ", ".join(["*d"] * 9) + "]}\n",
        "k" * 1_000_000 + ": 1\n",
        "\x00",
        "\ufeff",
        "\ufeff\ufeffsegments: {}\n",
        "segments:\r\r\n  a: age>3\r",
    ],
)
def test_extreme_documents(text: str, fmt: Format) -> None:
    for run in (
        lambda: load_schema(text),
        lambda: load_schema(SCHEMA, catalogs=[text]),
        lambda: format_text(text, name="f", fmt=fmt),
    ):
        try:
            run()
        except SegqlError as e:
            printable(e)
