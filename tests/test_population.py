"""`percentile`, `ntile` and `top … by` on every SQL engine against a reference written from the
contract (docs/semantics.md §5): operand values come from the in-process evaluator, ranks
are computed here. Random data with nulls, ties and one-contact populations."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from engines import Dataset, assert_batch_agrees, assert_engines_agree, require_pg
from gen import AS_OF, datasets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql.backends.python import Predicate
from segql.checker import typed
from segql.ir import nodes as ir

# Operands: never-null aggregates (counts, sums), nullable fields and aggregates, arithmetic.
OPERANDS = [
    "total_spent",
    "purchases",
    "count(orders within 30d)",
    "sum(orders.amount where category = 'shoes')",
    "age",
    "score",
    "avg_order",
    "max(orders.quantity)",
    "(age + purchases)",
    "days_since(signup_at)",
]
PERCENTS = ["0.5", "1", "10", "33.3", "50", "99.5", "100"]
REST = ["", " and email_consent", " or country = 'DE'", " and not (age > 30)"]


@st.composite
def population_exprs(draw: Any) -> tuple[str, str, str, str]:
    """(segql text, operand, kind, parameter); kind is 'top' or a comparison operator."""
    x = draw(st.sampled_from(OPERANDS))
    rest = draw(st.sampled_from(REST))
    if draw(st.booleans()):
        p = draw(st.sampled_from(PERCENTS))
        if draw(st.booleans()):  # null (no value) and false (not in the top) differ here
            return f"not (top {p}% by {x}){rest}", x, "not top", p
        return f"top {p}% by {x}{rest}", x, "top", p
    if draw(st.booleans()):
        tiles = draw(st.sampled_from([1, 2, 3, 4, 7]))
        k = draw(st.integers(0, tiles + 1))
        op = draw(st.sampled_from(["=", "<", ">="]))
        return f"ntile({x}, {tiles}) {op} {k}{rest}", x, f"ntile {op}", f"{tiles} {k}"
    op = draw(st.sampled_from(["=", "<", ">=", "!="]))
    n = draw(st.sampled_from(["0", "50", "100", "66.5"]))
    return f"percentile({x}) {op} {n}{rest}", x, op, n


def _reference(data: Dataset, expr: str, operand: str, kind: str, param: str) -> set[Any]:
    schema = data.schema
    contacts = data.contacts()
    key = schema.entity.key
    tree = typed(f"({operand}) is null", schema)  # a segment is a condition: unwrap
    assert isinstance(tree, ir.IsNull)
    value = Predicate(tree.operand, schema)
    xs = {c[key]: value.value(c, data.events_of(c[key]), AS_OF) for c in contacts}
    present = sorted(Fraction(v) for v in xs.values() if v is not None)
    n = len(present)

    def rank0(v: Any) -> int:  # contacts strictly below: RANK() - 1
        return sum(1 for p in present if p < Fraction(v))

    # NTILE over (value, key): the first n % tiles groups hold one row more
    ordered = sorted(
        (Fraction(v), k) for k, v in xs.items() if v is not None
    )  # integer keys: binary order is numeric order
    tile_of: dict[Any, int] = {}
    if kind.startswith("ntile"):
        tiles = int(param.split()[0])
        size, extra = divmod(n, tiles)
        i = 0
        for g in range(tiles):
            for _ in range(size + (1 if g < extra else 0)):
                tile_of[ordered[i][1]] = g + 1
                i += 1

    def population(v: Any, who: Any = None) -> bool | None:
        if v is None:
            return None
        if kind.startswith("ntile"):
            k = int(param.split()[1])
            t = tile_of[who]
            return {"ntile =": t == k, "ntile <": t < k, "ntile >=": t >= k}[kind]
        if kind in ("top", "not top"):
            need = 100 - Fraction(Decimal(param))
            top = need <= 0 if n == 1 else rank0(v) * 100 >= need * (n - 1)
            return top if kind == "top" else not top
        pct = Fraction(0) if n == 1 else Fraction(100 * rank0(v), n - 1)
        limit = Fraction(Decimal(param))
        return {
            "=": pct == limit,
            "<": pct < limit,
            ">=": pct >= limit,
            "!=": pct != limit,
        }[kind]

    rest = None
    for connector in (" and ", " or "):
        if connector in expr:
            rest = connector.strip(), expr.split(connector, 1)[1]
            break
    out = set()
    for c in contacts:
        pop = population(xs[c[key]], c[key])
        result = pop
        if rest is not None:
            other = Predicate(typed(rest[1], schema), schema).value(
                c, data.events_of(c[key]), AS_OF
            )
            result = _and(pop, other) if rest[0] == "and" else _or(pop, other)
        if result is True:
            out.add(c[key])
    return out


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _check(data: Dataset, cases: list[tuple[str, str, str, str]], pg: bool) -> None:
    meaning = {expr: (operand, kind, param) for expr, operand, kind, param in cases}
    want = {expr: _reference(data, expr, *m) for expr, m in meaning.items()}
    assert_engines_agree(data, list(meaning), want.__getitem__, as_of=AS_OF, pg=pg)
    assert_batch_agrees(data, want, as_of=AS_OF, pg=pg)


_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=150, deadline=None, suppress_health_check=_HEALTH)
@given(data=datasets(), cases=st.lists(population_exprs(), min_size=1, max_size=5))
def test_population_duckdb_sqlite(data: Dataset, cases: list[tuple[str, str, str, str]]) -> None:
    _check(data, cases, pg=False)


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=_HEALTH)
@given(data=datasets(), cases=st.lists(population_exprs(), min_size=1, max_size=5))
def test_population_postgres(data: Dataset, cases: list[tuple[str, str, str, str]]) -> None:
    require_pg()
    _check(data, cases, pg=True)
