"""Property tests: three-valued logic laws hold for generated expressions and contacts, and
nothing a user can type makes the checker raise."""

from __future__ import annotations

from typing import Any

from engines import Dataset
from gen import AS_OF, datasets, expressions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop_schema import shop_schema

from segql.backends.python import Predicate
from segql.checker import check, typed
from segql.core.diagnostics import Diagnostic

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMA = shop_schema()


def truth(expr: str, data: Dataset) -> list[bool | None]:
    """The three-valued value of a boolean expression for every contact."""
    yes = Predicate(typed(expr, data.schema), data.schema)
    no = Predicate(typed(f"not ({expr})", data.schema), data.schema)
    out: list[bool | None] = []
    for c in data.contacts():
        ev = data.events_of(c["id"])
        t, f = yes(c, ev, AS_OF), no(c, ev, AS_OF)
        assert not (t and f)
        out.append(True if t else False if f else None)
    return out


def and3(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def or3(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def not3(a: bool | None) -> bool | None:
    return None if a is None else not a


@SETTINGS
@given(data=datasets(), a=expressions, b=expressions)
def test_connectives_follow_sql_three_valued_logic(data: Dataset, a: str, b: str) -> None:
    ta, tb = truth(a, data), truth(b, data)
    assert truth(f"({a}) and ({b})", data) == [and3(x, y) for x, y in zip(ta, tb, strict=True)]
    assert truth(f"({a}) or ({b})", data) == [or3(x, y) for x, y in zip(ta, tb, strict=True)]
    assert truth(f"not ({a})", data) == [not3(x) for x in ta]


@SETTINGS
@given(data=datasets(), a=expressions, b=expressions)
def test_de_morgan_and_double_negation(data: Dataset, a: str, b: str) -> None:
    assert truth(f"not (({a}) and ({b}))", data) == truth(f"not ({a}) or not ({b})", data)
    assert truth(f"not (({a}) or ({b}))", data) == truth(f"not ({a}) and not ({b})", data)
    assert truth(f"not not ({a})", data) == truth(a, data)


@SETTINGS
@given(data=datasets(), a=expressions)
def test_excluded_middle_fails_exactly_on_unknown(data: Dataset, a: str) -> None:
    ta = truth(a, data)
    both = truth(f"({a}) or not ({a})", data)
    assert both == [True if x is not None else None for x in ta]


_TOKENS = [
    "and", "or", "not", "in", "is", "null", "true", "between", "contains", "starts", "with",
    "ends", "within", "where", "has", "segment", "top", "by", "ago", "now", "today", "(", ")",
    "[", "]", ",", ".", "+", "-", "*", "/", "%", "=", "!=", "<", ">=", "age", "orders",
    "orders.amount", "count(", "sum(", "percentile(", "'x'", "3", "2.5", "30d", "6mo",
    "2024-01-01", "2024-01-01T00:00:00Z", "`by`", "country", "tags", "vip", "purchases",
    "last_order", "email", "days_until_anniversary(", "coalesce(", "#c\n", "\x00", "é",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.lists(st.sampled_from(_TOKENS), max_size=25).map(" ".join),
    )
)
def test_checker_never_raises_on_garbage(text: str) -> None:
    diags = check(text, SCHEMA)
    assert all(isinstance(d, Diagnostic) for d in diags)
    if any(d.is_error for d in diags):
        assert all(d.code and d.message for d in diags)


@settings(max_examples=200, deadline=None)
@given(data=datasets(), a=expressions)
def test_checked_expressions_never_crash_the_evaluator(data: Dataset, a: str) -> None:
    pred = Predicate(typed(a, data.schema), data.schema)
    for c in data.contacts():
        result: Any = pred(c, data.events_of(c["id"]), AS_OF)
        assert result is True or result is False
