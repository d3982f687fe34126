"""Properties of the syntax layer over random trees and random text.

* ``parse(format(e)) == e`` for every well-formed tree (equality ignores spans), and
  formatting is idempotent;
* the spans of parsed nodes lie within the text, agree with their line/column, and nest;
* no text makes ``parse`` raise anything but :class:`segql.SegqlError`, and no
  diagnostic leaks Lark's vocabulary;
* pathological nesting and length give a result or ``limit-exceeded`` quickly, never
  a ``RecursionError``.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import exprs, token_soup

import segql
from segql.core.diagnostics import render, span_at
from segql.lang import ast as a
from segql.lang.parser import measure

# Generous limits: the random trees are small, but not always within the defaults.
BIG = segql.Limits(max_length=10**7, max_depth=10**6, max_terms=10**7)
LARK_WORDS = re.compile(r"RPAR|LPAR|LSQB|RSQB|_AND|_OR|__ANON|\$END|\bNAME\b|Token\(|Tree\(")

_TREES = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_TREES
@given(exprs())
def test_format_then_parse_gives_the_same_tree(e: a.Expr) -> None:
    text = segql.format(e)
    back = segql.parse(text, limits=BIG)
    assert back == e, text
    assert segql.format(back) == text  # idempotent
    assert segql.format(text) == text  # also through the str overload


@_TREES
@given(exprs(), st.integers(20, 120))
def test_any_width_round_trips(e: a.Expr, width: int) -> None:
    text = segql.format(e, width=width)
    assert segql.parse(text, limits=BIG) == e, text
    assert segql.format(segql.parse(text, limits=BIG), width=width) == text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs())
def test_spans_lie_within_the_text_and_nest(e: a.Expr) -> None:
    text = segql.format(e)
    tree = segql.parse(text, limits=BIG)
    stack: list[tuple[a.Expr, a.Expr | None]] = [(tree, None)]
    while stack:
        node, parent = stack.pop()
        sp = node.span
        assert 0 <= sp.start <= sp.end <= len(text), (node, text)
        assert sp == span_at(text, sp.start, sp.end), (node, text)
        if parent is not None:
            assert parent.span.start <= sp.start and sp.end <= parent.span.end, (node, text)
        if isinstance(node, a.Name):
            assert text[sp.start : sp.end] == segql.format(node)
        stack.extend((k, node) for k in a.children(node))


def _assert_clean_error(text: str, err: segql.SegqlError) -> None:
    assert err.diagnostics
    for d in err.diagnostics:
        assert d.code and d.message
        assert 0 <= d.start <= d.end <= len(text)
        assert d.span == span_at(text, d.start, d.end)
        words = " ".join((d.message, *d.hints))
        leaked = [w for w in LARK_WORDS.findall(words) if w not in text]  # not quoting the user
        assert not leaked, words
        assert render(d).startswith(f"<expr>:{d.line}:{d.column}: error[{d.code}]: ")


def _parse_anything(text: str) -> None:
    try:
        tree = segql.parse(text)
    except segql.SegqlError as err:
        _assert_clean_error(text, err)
        return
    # Whatever parses, formats to a fixed point.
    out = segql.format(tree)
    assert segql.parse(out, limits=BIG) == tree
    assert segql.format(out) == out


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_only_raises_segql_errors(text: str) -> None:
    _parse_anything(text)


@settings(max_examples=1200, deadline=None)
@given(token_soup())
def test_token_soup_only_raises_segql_errors(text: str) -> None:
    _parse_anything(text)


@settings(max_examples=300, deadline=None)
@given(exprs(), st.integers(0, 10**6), st.sampled_from(["", " ", "(", ")", "and", "'", "`"]))
def test_mangled_valid_text_only_raises_segql_errors(e: a.Expr, at: int, junk: str) -> None:
    text = segql.format(e)
    cut = at % (len(text) + 1)
    _parse_anything(text[:cut] + junk + text[cut:])
    _parse_anything(text[:cut])


N = 10_000
PATHOLOGICAL = {
    "parens": "(" * N + "x" + ")" * N,
    "unclosed parens": "(" * N + "x",
    "unmatched parens": "x" + ")" * N,
    "nots": "not " * N + "x",
    "negations": "-" * N + "x > 1",
    "ands": " and ".join(["x"] * 5_000),
    "ors of comparisons": " or ".join(["x > 1"] * 5_000),
    "sums": "x" + " + 1" * 5_000 + " > 0",
    "list": "x in [" + ", ".join(["1"] * 5_000) + "]",
    "nested lists": "[" * N + "]" * N,
    "nested calls": "f(" * 5_000 + "x" + ")" * 5_000,
    "nested aggregates": "count(o where " * 3_000 + "x" + ")" * 3_000,
    "long name": "x" * 20_000,
    "long string": "'" + "s" * 20_000 + "'",
}


@pytest.mark.parametrize("raised", [False, True], ids=["default limits", "raised limits"])
@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_inputs_end_quickly(name: str, raised: bool) -> None:
    text = PATHOLOGICAL[name]
    start = time.perf_counter()
    try:
        tree = segql.parse(text, limits=BIG) if raised else segql.parse(text)
    except RecursionError:  # pragma: no cover - the property under test
        pytest.fail("RecursionError")
    except segql.SegqlError as err:
        _assert_clean_error(text, err)
        if not raised:
            assert err.code in ("limit-exceeded", "unclosed-bracket", "unbalanced-bracket")
    else:
        assert raised, "the default limits should refuse this"
        depth, terms = measure(tree)
        assert depth >= 1 and terms >= 1
        with contextlib.suppress(segql.LimitError):  # the formatter copes, or refuses cleanly
            segql.format(tree)
    assert time.perf_counter() - start < 5, name


def test_default_limits_refuse_each_excess_with_limit_exceeded() -> None:
    cases = {
        "x" * 10_001: "10,001 characters",
        "not " * 64 + "x": "nested 65 levels",
        "1" + " + 1" * 64 + " > 0": "nested 66 levels",
        " or ".join(["a"] * 1_001): "1,001 terms",
    }
    for text, words in cases.items():
        with pytest.raises(segql.LimitError) as info:
            segql.parse(text)
        assert info.value.code == "limit-exceeded"
        assert words in info.value.diagnostic.message
    # ... and each limit can be raised
    segql.parse("not " * 64 + "x", limits=segql.Limits(max_depth=65))
    segql.parse(" or ".join(["a"] * 1_001), limits=segql.Limits(max_terms=1_001))
    segql.parse("x" * 10_001, limits=segql.Limits(max_length=10_001))


def test_a_low_recursion_limit_is_not_involved() -> None:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        tree = segql.parse(" and ".join(["x > 1"] * 800), limits=BIG)
        assert isinstance(tree, a.BoolOp) and len(tree.operands) == 800
        segql.parse("(" * 4_000 + "x" + ")" * 4_000)
        with pytest.raises(segql.LimitError):
            segql.parse("not " * 5_000 + "x")
    finally:
        sys.setrecursionlimit(old)
