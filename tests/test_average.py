"""`avg` of integers and decimals is the exact sum over the count, rounded once
(docs/semantics.md): an average of exactly 34 is 34 on every engine. As an ``AVG`` over
doubles it came out 33.99999999999999 when the values were added in table order, and a
1M-contact batch gave a different count from run to run (the order of a parallel sum)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from corpus_data import orders_only
from engines import Dataset, assert_engines_agree, require_pg

from segql.backends.python import Predicate
from segql.checker import typed

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
# added in this order as doubles the sum is 203.99999999999997; exactly it is 204.00
AMOUNTS = ["2.90", "12.60", "131.89", "18.32", "23.35", "14.94"]


def _data() -> Dataset:
    orders = []
    for n, amount in enumerate(AMOUNTS):
        t = AS_OF - dt.timedelta(days=n + 1)
        orders.append((1, t, D(amount), "shoes", "p", 1, False))
        orders.append((2, t, D(amount) + D("0.01") * (n == 0), "shoes", "p", 1, False))
    orders.append((3, AS_OF - dt.timedelta(days=1), None, "shoes", "p", 1, False))
    return orders_only([1, 2, 3], orders)


@pytest.mark.postgres
def test_an_exact_average_is_exact_everywhere_but_sqlite() -> None:
    require_pg()
    data = _data()
    exprs = [
        "avg(orders.amount) >= 34",
        "avg(orders.amount) = 34",
        "avg(orders.amount) < 34",
        "avg(orders.amount) is null",
        "avg(orders.quantity) = 1",
    ]
    want = {
        "avg(orders.amount) >= 34": {1, 2},
        "avg(orders.amount) = 34": {1},
        "avg(orders.amount) < 34": set(),
        "avg(orders.amount) is null": {3},
        "avg(orders.quantity) = 1": {1, 2, 3},
    }
    for e in exprs:
        pred = Predicate(typed(e, data.schema), data.schema)
        got = {c["id"] for c in data.contacts() if pred(c, data.events_of(c["id"]), AS_OF)}
        assert got == want[e], e
    assert_engines_agree(
        data,
        exprs,
        want.__getitem__,
        as_of=AS_OF,
        pg=True,
        spark=True,
        clickhouse=True,
        sqlite=False,  # decimals stored as floats, added in table order: 33.99999999999999
    )
