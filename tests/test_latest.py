"""`has E within D` counted in a pass is a test of E's latest event time (backends/sql/
events.py, `latest_test`): an event lies in ``[bound, as_of]`` exactly when the latest one
does, so every such `has` and `last(E)` share one MAX. Checked at the boundaries (an
event exactly at the bound, a millisecond before it, at as_of, after as_of, with a null
time), for `where` lower bounds on the time (strict and not, either way round), next to a
`count` over the same window (which must stay a count), on every engine, against the
in-process evaluator."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from corpus_data import orders_only
from engines import ENGINE_KINDS, Dataset, engine_database

from segql.backends.python import Predicate
from segql.checker import typed
from segql.core.schema import SegmentDef

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
BOUND = AS_OF - dt.timedelta(days=30)
X = dt.datetime(2026, 5, 20, 12, tzinfo=dt.UTC)  # the `where` bound below
# (a millisecond: SQLite compares times to the millisecond, docs/dialects.md)
US = dt.timedelta(milliseconds=1)

SEGMENTS = {
    "recent": "has orders within 30d",
    # with another aggregate of the stream, so the pass is not filtered by the window
    "recent_and_old": "has orders within 30d and first(orders) < 2026-05-25",
    "lapsed": "not has orders within 30d and last(orders) is not null",
    "strict": "has orders where ordered_at > 2026-05-20T12:00:00Z within 90d",
    "flipped": "has orders where 2026-05-20T12:00:00Z <= ordered_at",
    "both_bounds": "has orders where (ordered_at >= 2026-05-20T12:00:00Z and "
    "ordered_at > 2026-05-01) within 30d",
    # not a lower bound on the time alone: still counted
    "big_recent": "has orders where amount > 100 within 30d",
    "not_a_bound": "has orders where ordered_at < 2026-05-20T12:00:00Z within 30d",
    # the same window counted: the count must not become the has's 0/1
    "twice_recent": "count(orders within 30d) >= 2 and has orders within 30d",
    "latest": "last(orders) within 30d",
}

# contact: its orders' times (None: no time)
ORDERS: dict[int, list[dt.datetime | None]] = {
    1: [BOUND],  # exactly at the bound: in the window
    2: [BOUND - US],  # a millisecond before: not
    3: [AS_OF],  # at as_of: in
    4: [AS_OF + US, BOUND - dt.timedelta(days=5)],  # after as_of (not seen), and an old one
    5: [],
    6: [None],
    7: [BOUND + dt.timedelta(days=1), AS_OF - dt.timedelta(days=1)],  # two in the window
    8: [X],  # exactly at the `where` bound: `>` excludes, `>=` includes
    9: [X + US, dt.datetime(2026, 4, 1, tzinfo=dt.UTC)],
}


def _data() -> Dataset:
    orders = [
        (k, t, D("150.00") if k in (3, 7) else D("20.00"), "shoes", "p", 1, False)
        for k, times in ORDERS.items()
        for t in times
    ]
    return orders_only(list(ORDERS), orders)


DATA = _data()


def _evaluated(expr: str) -> set[Any]:
    pred = Predicate(typed(expr, DATA.schema), DATA.schema)
    return {c["id"] for c in DATA.contacts() if pred(c, DATA.events_of(c["id"]), AS_OF)}


def test_the_evaluator_reads_the_boundaries_as_specified() -> None:
    """The reference itself, by hand: the window includes its bound and as_of."""
    assert _evaluated(SEGMENTS["recent"]) == {1, 3, 7, 8, 9}
    assert _evaluated(SEGMENTS["strict"]) == {3, 7, 9}
    assert _evaluated(SEGMENTS["flipped"]) == {3, 7, 8, 9}
    assert _evaluated(SEGMENTS["twice_recent"]) == {7}
    assert _evaluated(SEGMENTS["lapsed"]) == {2, 4}
    assert _evaluated(SEGMENTS["both_bounds"]) == {3, 7, 8, 9}


def test_a_defined_segment_with_errors_is_named_with_its_errors(tmp_path: Path) -> None:
    """(Not "unknown segment `x`, did you mean `@x`?", as it was for a schema built in code.)"""
    import segql

    schema = dataclasses.replace(
        DATA.schema,
        segments={
            "bad": SegmentDef(
                name="bad", text="has orders where amount > 1 and amount < 2 within 30d"
            )
        },
    )
    with engine_database("duckdb", DATA, tmp_path) as db, pytest.raises(segql.SegqlError) as e:
        db.membership(schema, ["bad"], as_of=AS_OF)
    codes = [d.code for d in e.value.diagnostics]
    assert codes == ["broken-segment", "syntax"], codes
    assert "did you mean" not in str(e.value)


def test_has_within_shares_the_latest_time_in_a_batch(tmp_path: Path) -> None:
    """The plan itself: in a batch, the windowed `has` and `last(orders)` are one MAX;
    the count over the same window stays a count, the `amount` condition a count."""
    from segql.engines.selection import membership_values

    schema = _schema()
    with engine_database("duckdb", DATA, tmp_path) as db:
        values = membership_values(schema, ["recent", "latest", "twice_recent"])
        coded = [(f"m{i}", v) for i, (_, v) in enumerate(values)]
        sql = db._text(db._batch(schema, AS_OF, coded))
    # last(orders), and the `has` test both segments share
    assert sql.count('MAX("e"."ordered_at")') == 2
    assert sql.count("COUNT(CASE") == 1  # count(orders within 30d)


def _schema() -> Any:
    return dataclasses.replace(
        DATA.schema,
        segments={n: SegmentDef(name=n, text=t) for n, t in SEGMENTS.items()},
    )


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_batches_and_single_queries_equal_the_evaluator(kind: str, tmp_path: Path) -> None:
    schema = _schema()
    with engine_database(kind, DATA, tmp_path) as db:
        rows = db.membership(schema, list(SEGMENTS), as_of=AS_OF).to_pylist()
        for name, expr in SEGMENTS.items():
            want = _evaluated(expr)
            assert {r["id"] for r in rows if r[name]} == want, (kind, name)
            # one at a time (PostgreSQL counts `has` in the pass there too)
            assert set(db.member_ids(expr, schema, as_of=AS_OF)) == want, (kind, name)
