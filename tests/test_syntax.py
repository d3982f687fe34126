"""Targeted tests of the language core that the fixture files cannot express: spans,
keyword tables against the contract, limits at their exact edges, and that the fixture
files themselves cover every construct and every diagnostic code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_syntax_fixtures import INVALID, VALID

import segql
from segql.lang import ast as a
from segql.lang.formatter import quote_name, quote_string
from segql.lang.functions import AGGREGATES
from segql.lang.tokens import KEYWORDS, needs_quotes

ROOT = Path(__file__).resolve().parent.parent


def _span_text(text: str, node: a.Expr) -> str:
    return text[node.span.start : node.span.end]


# --- the contract's tables --------------------------------------------------------------


def test_keywords_are_exactly_the_contracts() -> None:
    listed = {
        "and", "or", "not", "in", "is", "null", "true", "false", "between", "contains",
        "starts", "ends", "with", "within", "where", "has", "segment", "top", "by", "ago",
        "now", "today",
    }  # fmt: skip
    assert listed == KEYWORDS
    contract = ROOT.parent / "shared" / "CONTRACT.md"  # beside the checkout, when present
    if contract.exists():
        text = contract.read_text(encoding="utf-8").replace("\n  ", " ")
        m = re.search(r"Keywords are case-insensitive: `([^`]*)`", text)
        assert m is not None and set(m.group(1).split()) == KEYWORDS


def test_aggregates_are_the_contracts_and_not_keywords() -> None:
    assert {
        "count", "count_distinct", "sum", "avg", "median", "min", "max", "first", "last",
        "first_value", "last_value", "mode",
    } == AGGREGATES  # fmt: skip
    assert not AGGREGATES & KEYWORDS
    # A function name is an ordinary name outside a call.
    assert segql.parse("count > 3") == a.Compare(
        op=a.CmpOp.GT, left=a.Name(parts=("count",)), right=a.IntLit(value=3)
    )


@pytest.mark.parametrize("kw", sorted(KEYWORDS))
def test_every_keyword_needs_backticks_in_any_case(kw: str) -> None:
    for spelling in (kw, kw.upper(), kw.capitalize()):
        assert needs_quotes(spelling)
        assert quote_name(spelling) == f"`{spelling}`"
        tree = segql.parse(f"`{spelling}` = 1")
        assert isinstance(tree, a.Compare) and tree.left == a.Name(parts=(spelling,))
    # ...but a longer word that starts with a keyword is a plain name
    assert segql.parse(f"{kw}x = 1") == segql.parse(f"`{kw}x` = 1")


def test_keywords_are_case_insensitive_and_names_are_not() -> None:
    assert segql.parse("Vip AND NOT x IS NULL") == segql.parse("Vip and not x is null")
    assert segql.parse("Vip = 1") != segql.parse("vip = 1")
    assert segql.parse("In Segment VIP") == a.InSegment(name="VIP")


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("x", False),
        ("_x1", False),
        ("X_Y", False),
        ("1x", True),
        ("first name", True),
        ("é", True),
        ("a-b", True),
        ("a`b", True),
        ("", True),
    ],
)
def test_needs_quotes(name: str, quoted: bool) -> None:
    assert needs_quotes(name) is quoted


def test_quote_string_escapes_only_what_it_must() -> None:
    assert quote_string("it's") == "'it''s'"
    assert quote_string('a"b') == "'a\"b'"
    assert quote_string("a\\b\n\t\r\0") == "'a\\\\b\\n\\t\\r\\0'"
    assert quote_string("\x07\u2028") == "'\\u0007\\u2028'"
    assert quote_string("Zoë 日本 🎉") == "'Zoë 日本 🎉'"


# --- spans ------------------------------------------------------------------------------


def test_spans_of_a_comparison_and_its_parts() -> None:
    text = "  purchases >= 3"
    tree = segql.parse(text)
    assert isinstance(tree, a.Compare)
    assert _span_text(text, tree) == "purchases >= 3"
    assert _span_text(text, tree.left) == "purchases"
    assert _span_text(text, tree.right) == "3"
    assert (tree.span.line, tree.span.column, tree.span.end_column) == (1, 3, 17)


def test_spans_over_several_lines_count_code_points() -> None:
    text = "`prénom` = 'Zoë'\n  and orders.`unit price` > 1"
    tree = segql.parse(text)
    assert isinstance(tree, a.BoolOp)
    first, second = tree.operands
    assert isinstance(first, a.Compare) and isinstance(second, a.Compare)
    assert _span_text(text, first.left) == "`prénom`"
    assert _span_text(text, first.right) == "'Zoë'"
    assert (first.right.span.column, first.right.span.end_column) == (12, 17)
    assert _span_text(text, second.left) == "orders.`unit price`"
    assert (second.span.line, second.span.column) == (2, 7)
    assert (tree.span.line, tree.span.end_line, tree.span.end_column) == (1, 2, 30)


def test_spans_of_aggregates_has_and_parenthesised_operands() -> None:
    text = "(count(orders where amount > 5 within 30d)) > 1 and has orders within 7d"
    tree = segql.parse(text)
    assert isinstance(tree, a.BoolOp)
    cmp, has = tree.operands
    assert isinstance(cmp, a.Compare) and isinstance(cmp.left, a.Aggregate)
    assert _span_text(text, cmp.left) == "count(orders where amount > 5 within 30d)"
    assert cmp.left.where is not None and _span_text(text, cmp.left.where) == "amount > 5"
    assert _span_text(text, has) == "has orders within 7d"


def test_crlf_line_endings_count_as_one_line_break() -> None:
    text = "x > 1\r\nand y == 2"
    with pytest.raises(segql.SegqlError) as info:
        segql.parse(text)
    d = info.value.diagnostic
    assert (d.line, d.column, d.end_column) == (2, 7, 9)
    assert "   2 | and y == 2" in str(info.value)


# --- limits at their edges --------------------------------------------------------------


def test_limits_accept_exactly_the_maximum() -> None:
    segql.parse("x" * 10_000)
    segql.parse("not " * 63 + "x")  # 64 levels
    segql.parse(" or ".join(["a"] * 1_000))
    with pytest.raises(segql.LimitError):
        segql.parse("x" * 10_001)
    with pytest.raises(segql.LimitError):
        segql.parse("not " * 64 + "x")
    with pytest.raises(segql.LimitError):
        segql.parse(" or ".join(["a"] * 1_001))


def test_lower_limits_are_honoured() -> None:
    small = segql.Limits(max_length=20, max_depth=3, max_terms=2)
    segql.parse("a and b", limits=small)
    for text, words in [
        ("a and b and c", "3 terms"),
        ("not not not a", "4 levels"),
        ("x" * 21, "21 characters"),
    ]:
        with pytest.raises(segql.LimitError) as info:
            segql.parse(text, limits=small)
        assert words in info.value.diagnostic.message


def test_format_refuses_cleanly_a_tree_too_deep_to_print() -> None:
    deep = segql.parse("-" * 9_000 + "x", limits=segql.Limits(max_depth=10**6))
    with pytest.raises(segql.LimitError) as info:
        segql.format(deep)
    assert info.value.code == "limit-exceeded"


# --- the fixture files cover the language -----------------------------------------------


def _node_kinds(tree: a.Expr) -> set[str]:
    kinds: set[str] = set()
    for node in a.walk(tree):
        kinds.add(type(node).__name__)
        for attr in ("op", "unit"):
            value = getattr(node, attr, None)
            if value is not None:
                kinds.add(f"{type(value).__name__}.{value.name}")
        if isinstance(node, a.Aggregate):
            kinds.add(f"aggregate {node.func}")
            kinds.add(f"aggregate {node.where is not None} {node.within is not None}")
        if isinstance(node, a.Has):
            kinds.add(f"has {node.where is not None} {node.within is not None}")
        if isinstance(node, a.InList | a.IsNull) and node.negated:
            kinds.add(f"{type(node).__name__} negated")
        if isinstance(node, a.TimestampLit):
            kinds.add(f"timestamp {node.value.utcoffset()}")
    return kinds


def test_valid_fixtures_cover_every_construct() -> None:
    seen: set[str] = set()
    for case in VALID:
        seen |= _node_kinds(segql.parse(case.source))
    wanted = {t.__name__ for t in a.Expr.__args__}  # type: ignore[attr-defined]
    for enum in (a.CmpOp, a.ArithOp, a.BoolOpKind, a.MatchOp, a.DurationUnit):
        wanted |= {f"{enum.__name__}.{m.name}" for m in enum}
    wanted |= {f"aggregate {f}" for f in AGGREGATES}
    for kind in ("aggregate", "has"):
        wanted |= {f"{kind} {w} {d}" for w in (True, False) for d in (True, False)}
    wanted |= {"InList negated", "IsNull negated", "timestamp None", "timestamp 0:00:00"}
    wanted |= {"timestamp 2:00:00", "timestamp -1 day, 18:30:00"}
    assert wanted <= seen, sorted(wanted - seen)


def test_invalid_fixtures_cover_every_diagnostic_code_of_the_parser() -> None:
    lang = ROOT / "segql" / "lang"
    source = "".join(
        (lang / f"{m}.py").read_text(encoding="utf-8") for m in ("parser", "builder", "explain")
    )
    codes = set(re.findall(r'code="([a-z-]+)"', source))
    codes |= set(re.findall(r'_fail\(\s*"([a-z-]+)"', source))
    assert len(codes) >= 15
    seen = {case.sections["out"].split(" ", 1)[0] for case in INVALID}
    assert codes <= seen, sorted(codes - seen)


def test_the_token_enum_names_every_terminal_of_the_grammar() -> None:
    from lark import Lark

    from segql.lang.tokens import Tok, grammar_text

    text = grammar_text()
    terminals = {t.name for t in Lark(text, parser="lalr").terminals}
    # terminals only segql's lexer makes (contextual words), declared in the grammar
    declared = {n for line in re.findall(r"^%declare (.*)$", text, re.M) for n in line.split()}
    assert declared == {"FOLLOWED", "NOT_FOLLOWED"}
    assert {t.value for t in Tok} == terminals | declared


def test_prefix_answers_what_may_follow() -> None:
    from segql.lang.parser import Prefix, lex

    start = Prefix.start()
    assert "NAME" in start.accepts() and "$END" not in start.accepts()
    after = Prefix.of(lex("count(orders) >"))
    assert after is not None and not after.can_end()
    assert after.feed("INT") is not None and after.feed("_AND") is None
    assert Prefix.of(lex("a and")) is not None
    assert Prefix.of(lex("a and and")) is None
    done = Prefix.of(lex("a > 1"))
    assert done is not None and done.can_end()
