"""`has E where F > X …`, X the contact's, as E's largest F against X (backends/sql/extremes.py):
every orientation and operator, with other conditions on the event, a time window and
under `not`, on random data with nulls, ties and events of no contact — single queries on
every SQL engine (PostgreSQL plans `has` as its own query: this form) and batches,
against the in-process evaluator."""

from __future__ import annotations

from typing import Any

import pytest
from engines import Dataset, assert_batch_agrees, assert_engines_agree, require_pg
from gen import AS_OF, datasets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segql
from segql.backends.python import Predicate
from segql.checker import typed

# event field -> values of the contact it is compared with
FIELDS = {
    "amount": ["avg_order", "total_spent / 3", "score", "max(orders.amount) - 1"],
    "quantity": ["age / 20", "purchases", "2"],
    "ordered_at": ["last_open", "signup_at", "birthday"],
}
OTHERS = ["gift", "category = 'shoes'", "(not gift)", "amount > 1", "quantity is null"]


@st.composite
def extremes(draw: Any) -> str:
    field = draw(st.sampled_from(sorted(FIELDS)))
    x = draw(st.sampled_from(FIELDS[field]))
    op = draw(st.sampled_from([">", ">=", "<", "<="]))
    cond = f"{field} {op} {x}" if draw(st.booleans()) else f"{x} {op} {field}"
    others = draw(st.lists(st.sampled_from(OTHERS), max_size=2, unique=True))
    if others:
        parts = [cond, *others]
        if draw(st.booleans()):
            parts.reverse()
        cond = f"({' and '.join(parts)})"
    within = draw(st.sampled_from(["", " within 30d", " within 1y"]))
    text = f"has orders where {cond}{within}"
    return f"not ({text})" if draw(st.booleans()) else text


def _members(data: Dataset, expr: str) -> set[Any]:
    pred = Predicate(typed(expr, data.schema), data.schema)
    return {c["id"] for c in data.contacts() if pred(c, data.events_of(c["id"]), AS_OF)}


def _check(data: Dataset, exprs: list[str], pg: bool) -> None:
    want = {e: _members(data, e) for e in exprs}
    assert_engines_agree(data, exprs, want.__getitem__, as_of=AS_OF, pg=pg)
    assert_batch_agrees(data, want, as_of=AS_OF, pg=pg)


_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=120, deadline=None, suppress_health_check=_HEALTH)
@given(data=datasets(), exprs=st.lists(extremes(), min_size=1, max_size=6))
def test_largest_value_duckdb_sqlite(data: Dataset, exprs: list[str]) -> None:
    _check(data, exprs, pg=False)


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=_HEALTH)
@given(data=datasets(), exprs=st.lists(extremes(), min_size=1, max_size=6))
def test_largest_value_postgres(data: Dataset, exprs: list[str]) -> None:
    require_pg()
    _check(data, exprs, pg=True)


@pytest.mark.parametrize(
    ("expr", "aggregate"),
    [
        ("has orders where amount > avg_order within 30d", 'MAX("e"."amount")'),
        ("has orders where (gift and avg_order >= amount)", 'MIN("e"."amount")'),
        ("has orders where ordered_at < last_open", 'MIN("e"."ordered_at")'),
    ],
)
def test_the_plan_is_an_aggregate_of_the_events_alone(expr: str, aggregate: str) -> None:
    """PostgreSQL's query (each `has` there a grouped query): the events are no longer
    joined to the contact's pass."""
    from shop_schema import shop_schema

    sql = segql.to_sql(expr, shop_schema(), dialect="postgres", as_of=AS_OF)
    assert aggregate in sql
    assert '"segql_orders"."k" = "e"' not in sql  # no join of the events to the pass


@pytest.mark.parametrize(
    "expr",
    [
        "has orders where (amount > avg_order and quantity < age)",  # two read the contact
        "has orders where amount * 2 > avg_order",  # not a field
        "has orders where amount = avg_order",  # not an order
    ],
)
def test_other_conditions_keep_the_join(expr: str) -> None:
    from shop_schema import shop_schema

    sql = segql.to_sql(expr, shop_schema(), dialect="postgres", as_of=AS_OF)
    assert 'MAX("e"."amount")' not in sql and 'MIN("e"."amount")' not in sql
