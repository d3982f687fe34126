"""Optimizer rules as fixture pairs (input, expected), and the rules never change members."""

from __future__ import annotations

import pytest
from engines import Dataset, load_duckdb, run_rows
from fixture_cases import load
from gen import AS_OF, datasets, expressions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop_schema import shop_schema

from segql.backends.sql.query import to_sql as sql_of
from segql.checker import typed
from segql.ir import nodes as ir
from segql.optimize import optimize
from segql.optimize.rules import count_as_exists
from segql.pipeline import to_sql

SCHEMA = shop_schema()

# (segment, what the optimizer must turn it into; None = unchanged)
CASES = load("optimize/count_as_exists.test")
PAIRS = [(c.raw, None if c.sections["out"] == "unchanged" else c.sections["out"]) for c in CASES]


@pytest.mark.parametrize(("source", "expected"), PAIRS, ids=[c.name for c in CASES])
def test_pairs(source: str, expected: str | None) -> None:
    before = typed(source, SCHEMA)
    after = optimize(before)
    if expected is None:
        assert after is before
    else:
        assert after == typed(expected, SCHEMA)
        assert optimize(after) == after  # a fixed point


def test_rule_leaves_other_nodes() -> None:
    assert count_as_exists(typed("age > 1", SCHEMA)) is None
    assert count_as_exists(ir.Lit(value=1, type=typed("1 > 0", SCHEMA).type)) is None


def test_spans_kept() -> None:
    src = "age > 3 and count(orders) >= 1"
    out = optimize(typed(src, SCHEMA))
    assert isinstance(out, ir.BoolOp)
    exists = out.operands[1]
    assert isinstance(exists, ir.Exists)
    assert src[exists.span.start : exists.span.end] == "count(orders) >= 1"


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_the_optimizer_never_changes_members(data: Dataset, exprs: list[str]) -> None:
    con = load_duckdb(data)
    try:
        for expr in exprs:
            optimized = to_sql(expr, data.schema, as_of=AS_OF)
            plain = sql_of(typed(expr, data.schema), data.schema, as_of=AS_OF)
            assert set(run_rows(con, optimized)) == set(run_rows(con, plain)), expr
    finally:
        con.close()


def test_rules_are_an_argument() -> None:
    before = typed("count(orders) >= 1", SCHEMA)
    assert optimize(before, rules=()) is before
    assert optimize(before, rules=(count_as_exists,)) == typed("has orders", SCHEMA)


def test_every_rule_module_is_registered_once() -> None:
    import pkgutil

    import segql.optimize.rules as rules_pkg
    from segql.optimize import RULES

    modules = sorted(m.name for m in pkgutil.iter_modules(rules_pkg.__path__))
    assert modules == sorted(r.__name__ for r in RULES)
    assert all(r.__module__ == f"segql.optimize.rules.{r.__name__}" for r in RULES)
