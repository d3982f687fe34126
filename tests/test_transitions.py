"""A history by transitions (backends/sql/transitions.py): where a segment reads only its
contact's fields and one stream's whole-history aggregates that add up exactly, the
condition is evaluated per contact and grid step and the changes are counted. Its sizes,
entered and exited equal one query per point — on named cases that pick each plan, and on
random data and random segments (hypothesis) with grids on the data's boundary times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from engines import Dataset, Table, load_duckdb
from gen import AS_OF, datasets, expressions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop_schema import shop_schema

import segql
from segql.backends.sql.dialects import profile_for
from segql.backends.sql.plan import SqlOptions
from segql.backends.sql.query import build_query
from segql.engine import Database
from segql.engines import history as hist
from segql.pipeline import compile

SCHEMA = shop_schema()
WEEKS = [AS_OF - dt.timedelta(weeks=w) for w in range(8, -1, -1)]


def plan(expr: str, dialect: str = "duckdb") -> str:
    """Which plan a 9-point weekly history of ``expr`` compiles to."""
    q = build_query(
        compile(expr, SCHEMA),
        SCHEMA,
        profile=profile_for(dialect),  # type: ignore[arg-type]
        as_of=AS_OF,
        options=SqlOptions(points=tuple(WEEKS)),
    )
    names = {c.alias_or_name for c in q.find_all(segql_exp().Alias)}
    if "rn" in names:
        return "transitions, every contact joined"
    if "z0" in names:
        settled = any(t.name == "segql_settled" for t in q.find_all(segql_exp().Table))
        return "transitions, settled" if settled else "transitions"
    if q.find(segql_exp().BitwiseOrAgg) is not None:
        return "grid, masks"
    return "grid"


def segql_exp() -> Any:
    from sqlglot import exp

    return exp


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        # counts and sums that only rise or only fall: contacts settled at the first point
        ("count(orders) >= 2", "transitions, settled"),
        ("count(orders) >= 2 and sum(orders.amount) > 100", "transitions, settled"),
        ("has orders where gift and country = 'DE'", "transitions, settled"),
        ("count(orders where category = 'shoes') < 1", "transitions, settled"),
        ("count(orders) >= 2 and not (sum(orders.amount) > 100)", "transitions"),
        ("sum(orders.amount) between 10 and 100", "transitions"),
        ("count(orders) = 2", "transitions"),
        ("max(orders.amount) > 100", "transitions, every contact joined"),
        ("last(orders) is null or last(orders) < 2026-01-01", "transitions, every contact joined"),
        ("last_order - first_order > 30d", "transitions, every contact joined"),
        # the point matters beyond the events it sees: a grid
        ("has orders within 30d", "grid, masks"),
        ("has orders where gift within 1mo and not has email_opens within 7d", "grid, masks"),
        ("count(orders within 30d) >= 2", "grid"),
        ("last(orders) > 30d", "grid"),
        ("days_since(last_order) > 30", "grid"),
        ("top 10% by total_spent", "grid"),
        # floats do not add up exactly, nor does an average
        ("sum(orders.amount) > 10 and avg(orders.amount) > 2", "grid"),
        ("count(orders) > 1 and count(email_opens) > 1", "grid"),
    ],
)
def test_the_plan_of_a_history(expr: str, want: str) -> None:
    assert plan(expr) == want


GRIDS = st.sampled_from(
    [
        WEEKS,
        [AS_OF - dt.timedelta(days=d) for d in (60, 30, 29, 7, 1, 0)],
        [AS_OF - dt.timedelta(seconds=s) for s in (400 * 86400, 86400, 1, 0)],
        [AS_OF],
    ]
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=4), at=GRIDS)
def test_a_history_equals_one_query_per_point(
    data: Dataset, exprs: list[str], at: list[dt.datetime]
) -> None:
    con = load_duckdb(data)
    db = Database(connection=con)
    try:
        for expr in exprs:
            try:
                want = hist._per_point(db, expr, data.schema, at, None)
            except segql.SegqlError:
                continue
            assert hist.history(db, expr, data.schema, at, None) == want, expr
    finally:
        db.close()
        con.close()


# weekly from March 1 to April 26, 2026 at 01:30 UTC: Europe/Berlin (March 29), Australia/
# Lord_Howe (April 5) and America/Los_Angeles (March 8) change their clocks in between
ACROSS_DST = [
    dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC) + dt.timedelta(weeks=w) for w in range(9)
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=datasets(zoned=True),
    exprs=st.lists(expressions, min_size=1, max_size=4),
    at=st.one_of(GRIDS, st.just(ACROSS_DST)),
    monthly=st.booleans(),
)
def test_a_history_in_a_zone_with_daylight_saving_equals_one_query_per_point(
    data: Dataset, exprs: list[str], at: list[dt.datetime], monthly: bool
) -> None:
    """Windows and grid steps on the zone's calendar (`within 1mo`, weekly steps across a
    daylight-saving change): masks and transitions place events as each point would."""
    if monthly:
        exprs = [*exprs, "has orders within 1mo", "has email_opens within 1w or purchases > 1"]
    test_a_history_equals_one_query_per_point.hypothesis.inner_test(data, exprs, at)  # type: ignore[attr-defined]


def test_named_histories_equal_one_query_per_point() -> None:
    """Boundary cases of each plan on the corpus data, on DuckDB and SQLite."""
    from corpus_data import corpus_dataset
    from engines import engine_database

    data = corpus_dataset()
    cases = [
        "count(orders) < 2",  # members before any event
        "count(orders) >= 2 and sum(orders.amount) > 100 or country = 'DE'",
        "count(orders where gift) >= 1 and not (max(orders.amount) > 300)",
        "first(orders) is null",
        "last_order - first_order > 180d",
    ]
    import tempfile
    from pathlib import Path

    for kind in ("duckdb", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp, engine_database(kind, data, Path(tmp)) as db:
            for expr in cases:
                for at in (WEEKS, [AS_OF - dt.timedelta(days=d) for d in range(400, -1, -40)]):
                    want = hist._per_point(db, expr, data.schema, at, None)
                    assert hist.history(db, expr, data.schema, at, None) == want, (kind, expr)


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "postgres"])
def test_a_refund_after_the_first_point_unsettles_a_contact(kind: str) -> None:
    """Contact 1 is in `sum > 100` at the first point and leaves it by a refund; contact 2
    is settled (in at the first point, no refund) and its later orders are not followed;
    contact 3 enters; in the falling `count < 2`, contact 2 is settled out of it."""
    import tempfile
    from pathlib import Path

    from corpus_data import orders_only
    from engines import engine_database

    w = WEEKS

    def order(key: int, at: dt.datetime, amount: str) -> tuple[object, ...]:
        return (key, at, Decimal(amount), "shoes", "p", 1, False)

    data = orders_only(
        [1, 2, 3],
        [
            order(1, w[0] - dt.timedelta(days=30), "150"),
            order(1, w[4], "-60"),  # 90 from the fifth point on
            order(2, w[0], "300"),  # at the first point exactly
            order(2, w[0] - dt.timedelta(days=1), "1"),
            order(2, w[6], "5"),
            order(3, w[2] + dt.timedelta(seconds=1), "101"),  # seen from the fourth point
        ],
    )
    want = {
        "sum(orders.amount) > 100": [2, 2, 2, 3, 2, 2, 2, 2, 2],
        "count(orders) < 2": [2, 2, 2, 2, 1, 1, 1, 1, 1],  # 1: two orders from w[4]
    }
    with tempfile.TemporaryDirectory() as tmp, engine_database(kind, data, Path(tmp)) as db:
        for expr, sizes in want.items():
            got = hist.history(db, expr, data.schema, WEEKS, None)
            assert got == hist._per_point(db, expr, data.schema, WEEKS, None), expr
            assert [p["size"] for p in got] == sizes, expr
    assert plan("sum(orders.amount) > 100", kind) == "transitions, settled"


def test_masks_need_a_bitwise_or_and_at_most_62_points() -> None:
    assert plan("has orders within 30d", "sqlite") == "grid"
    many = [AS_OF - dt.timedelta(days=d) for d in range(62, -1, -1)]
    q = build_query(
        compile("has orders within 30d", SCHEMA),
        SCHEMA,
        profile=profile_for("duckdb"),  # type: ignore[arg-type]
        as_of=AS_OF,
        options=SqlOptions(points=tuple(many)),
    )
    assert q.find(segql_exp().BitwiseOrAgg) is None


def test_windows_on_a_long_daily_grid_equal_one_query_per_point() -> None:
    """Masks cover up to 62 points: 40 and 70 daily points (the second without masks)
    around the 30- and 60-day windows of the corpus data."""
    import tempfile
    from pathlib import Path

    from corpus_data import corpus_dataset
    from engines import engine_database

    data = corpus_dataset()
    expr = "has orders within 30d and not has email_opens where campaign = 'feb' within 60d"
    with tempfile.TemporaryDirectory() as tmp, engine_database("duckdb", data, Path(tmp)) as db:
        for days in (40, 70):
            at = [AS_OF - dt.timedelta(days=d, hours=7) for d in range(days, -1, -1)]
            want = hist._per_point(db, expr, data.schema, at, None)
            assert hist.history(db, expr, data.schema, at, None) == want, days
            assert any(p["entered"] for p in want[1:]) and any(p["exited"] for p in want[1:])


MONOTONE = st.sampled_from(
    [
        "count(orders) >= 2",
        "count(orders where gift) > 0",
        "sum(orders.amount) > 100",
        "sum(orders.amount) >= 0",
        "sum(orders.amount where category = 'shoes') > 50",
        "sum(orders.quantity) >= 3",
        "total_spent > age",
        "has orders where amount < 0",
        "not (count(orders) > 1)",
        "count(orders) < 3",
        "sum(orders.amount) <= 200",
    ]
)
CONTACT = st.sampled_from(["email_consent", "country = 'DE'", "age > 20", "true"])


@st.composite
def monotone_segments(draw: st.DrawFn) -> str:
    """Conditions that only rise or only fall as events accumulate (some of each way),
    alone, combined, or with the contact's own fields (monotone.py)."""
    a, b = draw(MONOTONE), draw(MONOTONE)
    form = draw(st.integers(0, 4))
    if form == 0:
        return a
    if form == 1:
        return f"{a} and {b}"
    if form == 2:
        return f"({a} or {b}) and {draw(CONTACT)}"
    if form == 3:
        return f"not ({a}) or {draw(CONTACT)}"
    return f"{a} and not ({b})"  # rises and falls: not settled


@st.composite
def refunds(draw: st.DrawFn) -> Dataset:
    """Random data with large orders up to the weekly grid's first point and refunds
    (negative amounts) after it, on and around the points: what takes a contact across a
    sum's threshold after it was settled."""
    data = draw(datasets())

    def orders(times: list[dt.datetime], amounts: list[Any], most: int) -> Any:
        return st.lists(
            st.tuples(
                st.sampled_from([1, 1, 2]),
                st.sampled_from(times),
                st.sampled_from([None if a is None else Decimal(a) for a in amounts]),
                st.sampled_from([None, "shoes", "bags"]),
                st.just("p"),
                st.sampled_from([None, 0, 2]),
                st.sampled_from([None, True, False]),
            ),
            min_size=1,
            max_size=most,
        )

    old = [WEEKS[0] - dt.timedelta(days=400), WEEKS[0] - dt.timedelta(seconds=1), WEEKS[0]]
    new = [w + dt.timedelta(seconds=s) for w in (*WEEKS[1:3], *WEEKS[-2:]) for s in (-1, 0, 1)]
    new.append(WEEKS[0] + dt.timedelta(seconds=1))
    rows = draw(orders(old, [120, 250, 40, None], 3)) + draw(
        orders(new, [-300, -60, "-0.25", 0, 40, None], 4)
    )
    tables = {**data.tables, "orders": Table(data.tables["orders"].columns, rows)}
    return Dataset(schema=data.schema, tables=tables)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    case=st.one_of(st.tuples(refunds(), st.just(WEEKS)), st.tuples(datasets(), GRIDS)),
    exprs=st.lists(monotone_segments(), min_size=2, max_size=5),
)
def test_settled_contacts_keep_a_history_equal_to_one_query_per_point(
    case: tuple[Dataset, list[dt.datetime]], exprs: list[str]
) -> None:
    """A contact in a rising segment at the first point (out of a falling one) is not
    followed further — unless a negative amount after that point may take it out of a sum:
    random data has negative and null amounts on the grid's boundaries."""
    data, at = case
    test_a_history_equals_one_query_per_point.hypothesis.inner_test(data, exprs, at)  # type: ignore[attr-defined]
