"""Property tests of the syntax layer: print -> parse round-trips, idempotent formatting,
and no input text can make the parser raise anything but SegqlError."""

from __future__ import annotations

import sys
import time

import pytest
from ast_strategies import exprs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segql
from segql import ast as a
from segql.syntax import measure

BIG = segql.Limits(max_length=10**7, max_depth=10**6, max_terms=10**7)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs)
def test_format_then_parse_gives_the_same_tree(e: a.Expr) -> None:
    text = segql.format(e)
    back = segql.parse(text, limits=BIG)
    assert back == e, text
    assert segql.format(back) == text  # idempotent


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs)
def test_spans_lie_within_the_text(e: a.Expr) -> None:
    text = segql.format(e)
    tree = segql.parse(text, limits=BIG)
    for node in a.walk(tree):
        sp = node.span
        assert 0 <= sp.start <= sp.end <= len(text)
        assert (sp.line, sp.column) <= (sp.end_line, sp.end_column)


_SOUP = [
    "and", "OR", "not", "in", "is", "null", "between", "contains", "starts", "with", "ends",
    "within", "where", "has", "segment", "top", "by", "ago", "now", "today", "(", ")", "[",
    "]", ",", ".", "+", "-", "*", "/", "%", "=", "==", "!=", "<>", "<", ">=", "&&", "x",
    "orders.amount", "count(", "'s", "'ok'", '"q"', "`n`", "`", "3", "1_0", "2.5", "30d",
    "30m", "-30d", "2024-02-30", "2024-01-01T00:00Z", "#c\n", "\x00", "é", "🎉", "\\", ";",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(_SOUP), max_size=30).map(" ".join),
        st.lists(st.sampled_from(_SOUP), max_size=30).map("".join),
    )
)
def test_arbitrary_text_only_raises_segql_errors(text: str) -> None:
    try:
        tree = segql.parse(text)
    except segql.SegqlError as e:
        d = e.diagnostic
        assert d.code and d.message
        assert 0 <= d.start <= d.end <= len(text) + 1
        return
    segql.format(tree)


@pytest.mark.parametrize(
    ("text", "limits"),
    [
        ("(" * 10_000 + "x" + ")" * 10_000, None),
        ("(" * 10_000 + "x" + ")" * 10_000, BIG),
        ("not " * 10_000 + "x", None),
        ("not " * 10_000 + "x", BIG),
        ("-" * 10_000 + "x > 1", BIG),
        (" and ".join(["x"] * 5_000), None),
        (" and ".join(["x"] * 5_000), BIG),
        ("x + " * 3_000 + "1 > 0", BIG),
        ("(" * 5_000, BIG),
    ],
)
def test_pathological_inputs(text: str, limits: segql.Limits | None) -> None:
    start = time.perf_counter()
    try:
        tree = segql.parse(text) if limits is None else segql.parse(text, limits=limits)
    except segql.SegqlError as e:
        assert e.code in ("limit-exceeded", "unclosed-bracket", "syntax"), e.code
    except RecursionError:  # pragma: no cover - the property under test
        pytest.fail("RecursionError")
    else:
        depth, terms = measure(tree)
        assert terms >= 1 and depth >= 1
    assert time.perf_counter() - start < 5


def test_default_limits_refuse_with_limit_exceeded() -> None:
    for text in ("x > 1 and " * 2_000 + "y", "not " * 100 + "x", " or ".join(["a"] * 1_001)):
        with pytest.raises(segql.LimitError) as info:
            segql.parse(text)
        assert info.value.code == "limit-exceeded"


def test_recursion_limit_is_not_involved() -> None:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        segql.parse(" and ".join(["x > 1"] * 800), limits=BIG)
    finally:
        sys.setrecursionlimit(old)
