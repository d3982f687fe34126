"""Hostile input for the language core (issue 9, items 17-19).

Extreme numbers, times and names never crash ``parse``, ``check``, ``to_sql`` (every
dialect segql knows) or ``matches``: only :class:`segql.SegqlError` escapes, ``check``
never raises, and every message can be printed. Values at the edges of what segql
supports give the same members in-process and on every engine.

The explicit tests pin each reported crash; the Hypothesis tests at the end generate
the rest (bounded: each runs in a few seconds).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from corpus_data import CONTACT_COLUMNS, EMAIL_COLUMNS, ORDER_COLUMNS
from engines import Dataset, PgDatabase, Table, load_duckdb, load_sqlite, run_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop_schema import shop_schema
from strategies import _extend as extend_trees

import segql
from segql.backends.python import Predicate
from segql.backends.sql.dialects import SUPPORTED, experimental_dialects
from segql.checker import typed
from segql.core.diagnostics import Diagnostic, render
from segql.core.schema import Entity, FieldDef, Schema, Source
from segql.core.types import Type
from segql.lang import ast as a
from segql.lang.formatter import format_expr

UTC = dt.UTC
AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
S = shop_schema()
TOKYO = shop_schema("Asia/Tokyo")
LA = shop_schema("America/Los_Angeles")
ALL_DIALECTS = [*SUPPORTED, *experimental_dialects()]


def printable(err: segql.SegqlError | Diagnostic) -> str:
    """The error as a terminal shows it; fails if it cannot be written as UTF-8."""
    text = str(err)
    text.encode("utf-8")
    return text


def raises(fn: Callable[[], object], code: str) -> segql.SegqlError:
    with pytest.raises(segql.SegqlError) as err:
        fn()
    assert err.value.code == code, printable(err.value)
    printable(err.value)
    return err.value


def schema_errors(path: Path, text: str) -> segql.SchemaError:
    """The error of loading ``text`` as the schema file ``path``."""
    path.write_text(text, encoding="utf-8")
    with pytest.raises(segql.SchemaError) as err:
        segql.load_schema(path)
    return err.value


def m(expr: str, contact: dict[str, Any] | None = None, *, schema: Schema = S, **kw: Any) -> bool:
    kw.setdefault("as_of", AS_OF)
    return segql.matches(expr, schema, contact=contact or {"id": 1}, **kw)


# =======================================================================================
# Item 17: time arithmetic at the edges of years 1..9999
# =======================================================================================


@pytest.mark.parametrize(
    ("expr", "col", "end"),
    [
        ("signup_at within 2026y", 18, 23),
        ("last_order < 3000000d", 14, 22),
        ("count(orders within 30000mo) > 1", 21, 28),
        ("signup_at > 99999999999999999999s ago", 13, 34),
    ],
)
def test_shift_before_year_1_is_a_positioned_error(expr: str, col: int, end: int) -> None:
    for dialect in ("duckdb", "postgres", "sqlite", "bigquery"):
        err = raises(
            lambda d=dialect: segql.to_sql(expr, S, dialect=d, as_of=AS_OF), "out-of-range"
        )
        assert (err.diagnostic.column, err.diagnostic.end_column) == (col, end)
        assert "^~~" in printable(err)  # the expression's line, with the duration marked
    # In-process too, whether or not the contact has a value to compare.
    for contact in ({"id": 1}, {"id": 1, "signup_at": dt.datetime(2000, 1, 1)}):
        err = raises(lambda c=contact: m(expr, c), "out-of-range")
        assert (err.diagnostic.column, err.diagnostic.end_column) == (col, end)
        assert "^~~" in printable(err)


def test_check_reports_times_outside_the_range_and_never_raises() -> None:
    cases = [
        (S, "signup_at > 9999-12-31T23:59-12:00"),
        (S, "signup_at < 0001-01-01T00:00+05:00"),
        (LA, "signup_at > 9999-12-31T23:00"),  # naive: in LA, that is year 10000 in UTC
        (TOKYO, "signup_at > 0001-01-01T03:00"),
        (TOKYO, "signup_at > now and birthday > 0001-01-01"),  # its midnight is year 0 in UTC
    ]
    for schema, expr in cases:
        diags = segql.check(expr, schema)
        assert [d.code for d in diags] == ["out-of-range"], (expr, diags)
        literal = expr.split()[-1]
        assert diags[0].column == expr.index(literal) + 1
        assert diags[0].end_column == len(expr) + 1
        printable(diags[0])


def test_load_schema_reports_a_time_out_of_range_where_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    err = schema_errors(
        path,
        "entity:\n"
        "  table: contacts\n"
        "  key: id\n"
        "  fields: {signup_at: timestamp}\n"
        "traits:\n"
        "  recent: signup_at > 9999-12-31T23:59-12:00\n"
        "segments:\n"
        "  early: signup_at within 10000y\n",
    )
    got = [(d.code, d.line, d.column) for d in err.diagnostics]
    assert ("out-of-range", 6, 23) in got
    assert ("out-of-range", 8, 27) in got
    printable(err)


@pytest.mark.parametrize(
    "as_of",
    [
        dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
        dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
)
def test_as_of_outside_the_range_is_an_error(as_of: dt.datetime) -> None:
    raises(lambda: segql.to_sql("signup_at > now", S, as_of=as_of), "out-of-range")
    raises(lambda: m("signup_at > now", as_of=as_of), "out-of-range")


def test_as_of_at_the_edges_works_until_a_shift_leaves_the_range() -> None:
    first = dt.datetime(1, 1, 1)
    last = dt.date(9999, 12, 31)
    for as_of in (first, dt.date(1, 1, 1), last, dt.datetime.max):
        for dialect in ("duckdb", "postgres", "sqlite"):
            segql.to_sql("signup_at > now and signup_at > today", S, dialect=dialect, as_of=as_of)
        assert not m("signup_at > now", as_of=as_of)
    raises(lambda: segql.to_sql("signup_at within 1d", S, as_of=first), "out-of-range")
    raises(lambda: m("signup_at within 1d", as_of=dt.date(1, 1, 1)), "out-of-range")
    raises(lambda: m("has orders within 1mo", as_of=first), "out-of-range")
    assert segql.to_sql("signup_at within 1d", S, as_of=last)


def test_as_of_of_the_wrong_type_is_bad_input() -> None:
    raises(lambda: m("signup_at > now", as_of="2026-01-01"), "bad-input")  # type: ignore[arg-type]


def test_today_without_a_date_in_the_schema_zone_is_positioned() -> None:
    """9999-12-31T20:00Z is already 10000-01-01 in Tokyo."""
    as_of = dt.datetime(9999, 12, 31, 20, tzinfo=UTC)
    expr = "signup_at > today"
    err = raises(lambda: segql.to_sql(expr, TOKYO, as_of=as_of), "out-of-range")
    assert err.diagnostic.column == 13
    err = raises(lambda: m(expr, schema=TOKYO, as_of=as_of), "out-of-range")
    assert err.diagnostic.column == 13
    assert segql.to_sql(expr, S, as_of=as_of)
    expr = "days_until_anniversary(birthday) = 1"
    raises(lambda: m(expr, {"id": 1, "birthday": dt.date(2000, 1, 1)}, schema=TOKYO, as_of=as_of),
           "out-of-range")  # fmt: skip


def test_sqlite_writes_year_1_with_four_digits() -> None:
    sql = segql.to_sql("signup_at > 0001-01-01T00:00Z", S, dialect="sqlite", as_of=AS_OF)
    assert "'0001-01-01 00:00:00.000'" in sql


def test_anniversary_in_year_9999_counts_into_year_10000() -> None:
    as_of = dt.datetime(9999, 12, 31, 12, tzinfo=UTC)
    for birthday, days in ((dt.date(2000, 1, 1), 1), (dt.date(2000, 12, 31), 0)):
        assert m(f"days_until_anniversary(birthday) = {days}", {"id": 1, "birthday": birthday},
                 as_of=as_of)  # fmt: skip


# --- the same members at the edges of the range, on every engine ------------------------


def _contact(cid: int, **values: Any) -> tuple[Any, ...]:
    row = {name: None for name, _ in CONTACT_COLUMNS}
    row.update(id=cid, **values)
    return tuple(row[name] for name, _ in CONTACT_COLUMNS)


def _dataset(
    contacts: list[tuple[Any, ...]],
    orders: Sequence[tuple[Any, ...]] = (),
    emails: Sequence[tuple[Any, ...]] = (),
    schema: Schema = S,
) -> Dataset:
    return Dataset(
        schema=schema,
        tables={
            "contacts": Table(CONTACT_COLUMNS, contacts),
            "orders": Table(ORDER_COLUMNS, list(orders)),
            "email_events": Table(EMAIL_COLUMNS, list(emails)),
        },
    )


def _in_process(data: Dataset, expr: str, as_of: dt.datetime) -> set[Any]:
    pred = Predicate(typed(expr, data.schema), data.schema)
    return {c["id"] for c in data.contacts() if pred(c, data.events_of(c["id"]), as_of)}


def agree(data: Dataset, exprs: Sequence[str], as_of: dt.datetime, engines: Sequence[str]) -> None:
    """Every expression's members on each engine equal the in-process evaluator's."""
    cons: dict[str, Any] = {}
    if "duckdb" in engines:
        cons["duckdb"] = load_duckdb(data)
    if "sqlite" in engines:
        cons["sqlite"] = load_sqlite(data)
    pg = PgDatabase(data) if "postgres" in engines else None
    try:
        for expr in exprs:
            want = _in_process(data, expr, as_of)
            for name, con in cons.items():
                sql = segql.to_sql(expr, data.schema, dialect=name, as_of=as_of)
                assert set(run_rows(con, sql)) == want, (name, expr, want)
            if pg is not None:
                sql = segql.to_sql(expr, data.schema, dialect="postgres", as_of=as_of)
                assert set(pg.run(sql)) == want, ("postgres", expr, want)
    finally:
        for con in cons.values():
            con.close()
        if pg is not None:
            pg.close()


def _t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


EDGE_TIMES = _dataset(
    [
        _contact(1, signup_at=_t(1, 1, 1), birthday=dt.date(1, 1, 1)),
        _contact(2, signup_at=_t(1, 1, 1, 23, 59, 59), birthday=dt.date(1, 12, 31)),
        _contact(3, signup_at=_t(9999, 12, 31, 23, 59, 59, 999000), birthday=dt.date(9999, 12, 31)),
        _contact(4, signup_at=_t(9999, 1, 1), birthday=dt.date(2000, 2, 29)),
        _contact(5, signup_at=_t(5000, 6, 15, 12), birthday=dt.date(5000, 6, 15)),
        _contact(6),
    ],
    orders=[
        (1, _t(1, 1, 1), Decimal(1), "shoes", "a", 1, False),
        (1, _t(1, 1, 2), Decimal(2), "bags", "b", 1, True),
        (3, _t(9999, 12, 31, 23, 59, 59), Decimal(3), "books", "c", 1, False),
        (4, _t(9998, 12, 31), Decimal(4), "shoes", "d", 1, None),
    ],
)
EDGE_TIME_EXPRS = [
    "signup_at within 1y",
    "signup_at within 9998y",
    "signup_at < 1d",
    "signup_at > 1y",
    "signup_at > 0001-01-01T00:00Z",
    "signup_at >= 0001-01-01T00:00Z and signup_at <= 9999-12-31T23:59:59.999Z",
    "signup_at = 9999-12-31T23:59:59.999Z",
    "signup_at > today or signup_at > now",
    "signup_at > 1000y ago",
    "birthday > 0001-01-01",
    "birthday = 9999-12-31",
    "days_since(signup_at) > 3000000",
    "days_since(birthday) < 10",
    "year(signup_at) = 1 or year(birthday) = 9999",
    "month(signup_at) = 12 and day(signup_at) = 31",
    "weekday(birthday) = 1",
    "days_until_anniversary(birthday) < 30",
    "days_until_anniversary(birthday) = 0",
    "has orders within 1mo",
    "count(orders within 9000y) = 2",
    "last(orders) > 1d",
    "first(orders) < 0001-01-01T12:00Z",
    "last_order between 1d and 9998y",
]


@pytest.mark.parametrize(
    "as_of",
    [
        _t(1, 1, 2, 12),  # a day after the first instant: `1y` is out of range here
        _t(1, 2, 1),
        _t(9999, 12, 31, 23, 59, 59, 999000),
        _t(9999, 6, 1),
    ],
    ids=["0001-01-02", "0001-02-01", "9999-12-31", "9999-06-01"],
)
def test_edge_times_agree_on_duckdb_and_sqlite(as_of: dt.datetime) -> None:
    exprs = [e for e in EDGE_TIME_EXPRS if _resolvable(e, as_of)]
    assert len(exprs) >= 10
    agree(EDGE_TIMES, exprs, as_of, ["duckdb", "sqlite"])


@pytest.mark.postgres
def test_edge_times_agree_on_postgres() -> None:
    from engines import require_pg

    require_pg()
    for as_of in (_t(1, 2, 1), _t(9999, 12, 31, 23, 59, 59, 999000)):
        exprs = [e for e in EDGE_TIME_EXPRS if _resolvable(e, as_of)]
        agree(EDGE_TIMES, exprs, as_of, ["postgres"])


def _resolvable(expr: str, as_of: dt.datetime) -> bool:
    try:
        segql.to_sql(expr, S, as_of=as_of)
    except segql.CheckError as e:
        assert e.code == "out-of-range", printable(e)
        return False
    return True


# =======================================================================================
# Item 18: in-process arithmetic and input validation
# =======================================================================================


@pytest.mark.parametrize(
    ("expr", "code"),
    [
        ("round(credit, 400) > 1", "out-of-range"),
        ("round(age, -10000000) > 1", "out-of-range"),
        ("age % 0." + "0" * 59 + "1 > 0", "out-of-range"),
        ("1" + "0" * 400 + " / 3 > 0", "out-of-range"),
        ("round(age, -age) > 1", "wrong-arguments"),
    ],
)
def test_numbers_out_of_range_are_checker_errors(expr: str, code: str) -> None:
    assert [d.code for d in segql.check(expr, S)] == [code]
    raises(lambda: m(expr, {"id": 1, "age": 3, "credit": Decimal("1.5")}), code)
    for dialect in ALL_DIALECTS:
        raises(lambda d=dialect: segql.to_sql(expr, S, dialect=d, as_of=AS_OF), code)


def test_decimal_arithmetic_is_exact_not_28_digits() -> None:
    """Python's default context rounds to 28 digits; DuckDB and PostgreSQL do not."""
    one = {"id": 1, "credit": Decimal(1)}
    tiny = "0." + "0" * 30 + "1"
    assert m(f"credit + {tiny} > credit", one)
    assert m(f"credit - {tiny} < credit", one)
    assert m(f"-(credit + {tiny}) < -credit", one)
    assert m(f"abs(-(credit + {tiny})) > 1", one)
    wide = "1234567890123456789012345678901234.5678"
    assert m(f"credit * {wide} = {wide}", one)
    assert m(f"credit * {wide} % 10 = 4.5678", one)
    # Negation and abs are exact at any length; a sum of over 1,000 digits is out of range.
    long = {"id": 1, "credit": Decimal("0." + "1" * 2000)}
    assert m("-credit < 0 and abs(-credit) = credit and round(credit, 3) = 0.111", long)
    raises(lambda: m("credit + 1 > 0", long), "out-of-range")
    events = {"orders": [{"ordered_at": dt.datetime(2026, 1, 1), "amount": Decimal(wide)}] * 3}
    assert m(f"total_spent - {wide} * 2 = {wide}", events=events)


def test_exact_decimals_agree_on_duckdb() -> None:
    data = _dataset(
        [
            _contact(1, credit=Decimal("99999999999999.9999")),
            _contact(2, credit=Decimal("-99999999999999.9999")),
            _contact(3, credit=Decimal("0.0001")),
            _contact(4, credit=Decimal("12345678901234.5000")),
            _contact(5, credit=Decimal("-0.5000")),
            _contact(6, credit=Decimal(0)),
        ]
    )
    # DuckDB needs every result within DECIMAL(38): 14 integer digits leave 24 decimals.
    tiny = "0." + "0" * 20 + "1"
    exprs = [
        f"credit + {tiny} > credit",
        f"credit - {tiny} >= credit",
        "credit * 1000000000000000000.5 > 99999999999999999999999999999999.0",
        "credit % 0.0003 = 0.0001",
        "credit % 7.5 < 0",
        "-credit > 0",
        "round(credit, 3) = 99999999999999.9999 or round(credit, 3) = 100000000000000.000",
        "round(credit, -13) = 10000000000000 or round(credit, -13) = -100000000000000",
        "round(credit, -18) = 0",
        "round(credit) = -1 or round(credit, 18) = 0.0001",
        "floor(credit) = -100000000000000 or ceil(credit) = 1",
        "abs(credit) = 0.5",
        "credit / 3 > 33333333333333",
    ]
    agree(data, exprs, AS_OF, ["duckdb"])


@pytest.mark.postgres
def test_exact_decimals_agree_on_postgres() -> None:
    from engines import require_pg

    require_pg()
    data = _dataset([_contact(1, credit=Decimal("99999999999999.9999")), _contact(2)])
    exprs = [
        "credit + 0." + "0" * 20 + "1 > credit",
        "credit * 1000000000000000000.5 > 99999999999999999999999999999999.0",
        "round(credit, -13) = 100000000000000",
        "round(credit, 3) = 100000000000000.000",
    ]
    agree(data, exprs, AS_OF, ["postgres"])


NUMBER_EDGES = _dataset(
    [
        _contact(1, age=2**63 - 1, score=1e308),
        _contact(2, age=-(2**63) + 1, score=-1e308),
        _contact(3, age=8999999999999999999, score=5e-324),
        _contact(4, age=15, score=2.5, credit=Decimal("2.25")),
        _contact(5, age=-15, score=-2.5, credit=Decimal("-2.75")),
        _contact(6, age=1234567, score=-0.0, credit=Decimal("1234.5")),
        _contact(7, age=0, score=0.125, credit=Decimal("0.125")),
    ]
)
NUMBER_EDGE_EXPRS = [
    "age > 9223372036854775806",
    "age < -9223372036854775806",
    "age = 9223372036854775807",
    "age / 3 > 3074457345618258602",
    "age % 9223372036854775807 = 0",
    "age % 7 = 1 or age % -7 = -1",
    "round(age, 5) = 15",
    "abs(age) = 15",
    "-age = 15",
    "score > 1000000000000000000000000000000.0",
    "score < 0.000000000000000000000000000001 and score > 0",
    "floor(score) = 2 or ceil(score) = -2",
    "round(score) = 3 or round(score) = -3",
    "round(score, 2) = 0.13 or round(score, -1) = 0",
    "floor(score) > 1000000000000000000000000000000.0 or ceil(score) < -1",
    "abs(score) > 1000000000000000000000000000000.0",
    "score = 0",
    "round(credit, 1) = 2.3 or round(credit, 1) = -2.8",
    "round(credit, -1) = 1230 or round(credit, 2) = 0.13",
    "round(credit, -2) = 1200",
]
# Rounding to tens and beyond: results stay within 64 bits (engines stop with an overflow
# error otherwise, where the evaluator is exact).
ROUND_EDGES = _dataset(
    [
        _contact(1, age=9223372036854775000),
        _contact(2, age=-9223372036854775000),
        _contact(3, age=8999999999999999999),
        _contact(4, age=15),
        _contact(5, age=-15),
        _contact(6, age=1234567),
        _contact(7, age=-1234500),
    ]
)
ROUND_EDGE_EXPRS = [
    "round(age, -18) = 9000000000000000000 or round(age, -18) = -9000000000000000000",
    "round(age, -1) = 20 or round(age, -1) = -20",
    "round(age, -3) = 1235000 or round(age, -3) = 9223372036854775000",
    "round(age, -2) = -1234500 or round(age, -2) = 1234600",
    "round(age, -17) = 9000000000000000000",
    "round(age, 0) = 15",
]


def test_number_edges_agree_on_duckdb_and_sqlite() -> None:
    agree(NUMBER_EDGES, NUMBER_EDGE_EXPRS, AS_OF, ["duckdb", "sqlite"])
    agree(ROUND_EDGES, ROUND_EDGE_EXPRS, AS_OF, ["duckdb", "sqlite"])


@pytest.mark.postgres
def test_number_edges_agree_on_postgres() -> None:
    from engines import require_pg

    require_pg()
    agree(NUMBER_EDGES, NUMBER_EDGE_EXPRS, AS_OF, ["postgres"])
    agree(ROUND_EDGES, ROUND_EDGE_EXPRS, AS_OF, ["postgres"])


def test_sqlite_rounds_to_negative_digits() -> None:
    """SQLite's own round() takes negative digits as 0 (15 stays 15)."""
    sql = segql.to_sql("round(age, -1) = 20", S, dialect="sqlite", as_of=AS_OF)
    assert "ROUND" not in sql
    agree(ROUND_EDGES, ["round(age, -1) = 20", "round(age, -3) = 1235000"], AS_OF, ["sqlite"])
    agree(NUMBER_EDGES, ["round(score, -1) = 0", "round(credit, -1) = 1230"], AS_OF, ["sqlite"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("credit", Decimal("NaN")),
        ("credit", Decimal("sNaN")),
        ("credit", Decimal("-Infinity")),
        ("credit", Decimal("1E+38")),
        ("credit", float("nan")),
        ("score", float("inf")),
        ("score", float("nan")),
        ("score", Decimal("NaN")),
        ("score", Decimal("sNaN")),
        ("score", 10**400),
        ("age", 2**63),
        ("age", -(2**63) - 1),
        ("age", True),
        ("signup_at", dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
        ("signup_at", dt.datetime.max.replace(tzinfo=dt.timezone(-dt.timedelta(hours=1)))),
    ],
)
def test_unrepresentable_contact_values_are_bad_input(field: str, value: Any) -> None:
    expr = {
        "credit": "floor(credit) > 1",
        "score": "ceil(score) > 1",
        "age": "age > 1",
        "signup_at": "signup_at > 1d",
    }[field]
    err = raises(lambda: m(expr, {"id": 1, field: value}), "bad-input")
    assert f"`{field}`" in err.diagnostic.message


def test_unrepresentable_event_values_are_bad_input() -> None:
    t = dt.datetime(2026, 1, 1)
    for ev in (
        {"ordered_at": t, "amount": Decimal("NaN")},
        {"ordered_at": t, "amount": Decimal("Infinity")},
        {"ordered_at": t, "amount": float("inf")},
        {"ordered_at": t, "quantity": 2**64},
        {"ordered_at": dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))},
    ):
        for expr in ("sum(orders.amount) > 1", "max(orders.quantity) > 1", "has orders"):
            try:
                got = m(expr, events={"orders": [ev]})
            except segql.SegqlError as e:
                assert e.code == "bad-input", printable(e)
                continue
            # Only fields the expression reads are looked at.
            assert got is (expr == "has orders")
    with pytest.raises(segql.EngineError, match="must be a dict"):
        m("has orders", events={"orders": [1]})
    with pytest.raises(segql.EngineError, match="must be a list"):
        m("has orders", events={"orders": 5})  # type: ignore[dict-item]


def test_calendar_functions_refuse_times_without_a_wall_clock_in_the_zone() -> None:
    """datetime.max is 10000-01-01 in Tokyo; date.min's midnight there is year 0 in UTC."""
    err = raises(
        lambda: m("year(signup_at) > 1", {"id": 1, "signup_at": dt.datetime.max}, schema=TOKYO),
        "bad-input",
    )
    assert "`signup_at`" in err.diagnostic.message
    assert err.diagnostic.column == 6
    raises(
        lambda: m("days_since(birthday) > 1", {"id": 1, "birthday": dt.date.min}, schema=TOKYO),
        "bad-input",
    )
    raises(
        lambda: m("year(signup_at) < 2", {"id": 1, "signup_at": dt.datetime.min}, schema=LA),
        "bad-input",
    )
    # In UTC (or when no calendar is needed) the same values are fine.
    assert m("year(signup_at) = 9999", {"id": 1, "signup_at": dt.datetime.max})
    assert m("signup_at > now", {"id": 1, "signup_at": dt.datetime.max}, schema=TOKYO)
    assert m("days_since(birthday) > 1", {"id": 1, "birthday": dt.date.min})


@pytest.mark.parametrize(
    ("expr", "contact", "at"),
    [
        ("score * score > 1", {"score": 1e300}, "*"),
        ("score + score > 1", {"score": 1.7e308}, "+"),
        ("age * age * age * age * age * age * age * age * age * age * age * age * age * age * "
         "age * age * age * age * age / 3 > 1", {"age": 2**62}, "/"),
        ("credit * credit * credit * credit * credit * credit * credit * credit * credit * "
         "credit * credit * credit * credit * credit * credit * credit * credit * credit * "
         "credit * credit * credit * credit * credit * credit * credit * credit * credit > 0",
         {"credit": Decimal("9" * 37 + ".9")}, "*"),
    ],
)  # fmt: skip
def test_overflowing_results_are_positioned_out_of_range(
    expr: str, contact: dict[str, Any], at: str
) -> None:
    err = raises(lambda: m(expr, {"id": 1, **contact}), "out-of-range")
    d = err.diagnostic
    assert at in expr[d.start : d.end]
    assert "^" in printable(err)


# =======================================================================================
# Item 19 (part): NUL and lone surrogates never reach SQL or a terminal raw
# =======================================================================================


def test_nul_in_a_schema_column_is_refused_where_it_is_declared(tmp_path: Path) -> None:
    err = schema_errors(
        tmp_path / "schema.yaml",
        'entity:\n  table: "con\\0tacts"\n  key: id\n  fields:\n'
        '    email: {type: string, column: "e\\0mail"}\n',
    )
    got = sorted((d.code, d.line) for d in err.diagnostics)
    # The table at the entity (its Source carries no position), the column at its field.
    assert got == [("invalid-character", 1), ("invalid-character", 5)], got
    assert "\0" not in printable(err)


def test_a_schema_built_in_code_with_nul_produces_no_sql() -> None:
    fields = {"email": FieldDef(name="email", type=Type.STRING, column="e\0mail")}
    schema = Schema(
        timezone="UTC",
        entity=Entity(source=Source(table="contacts"), key="id", fields=fields),
        streams={},
    )
    for dialect in ("duckdb", "postgres", "sqlite", "mysql"):
        err = raises(
            lambda d=dialect: segql.to_sql("email = 'x'", schema, dialect=d, as_of=AS_OF),
            "invalid-character",
        )
        assert "\0" not in printable(err)
    bad_table = Schema(
        timezone="UTC",
        entity=Entity(source=Source(table="t\0"), key="id", fields={}),
        streams={},
    )
    raises(lambda: segql.to_sql("true", bad_table, as_of=AS_OF), "invalid-character")


@pytest.mark.parametrize("value", ["a\0b", "\ud800", "x\udfffy"])
def test_unsafe_characters_in_a_syntax_tree_are_refused_printably(value: str) -> None:
    """Text cannot hold lone surrogates (parse refuses them), but a host can build a tree."""
    for tree in (
        a.Compare(op=a.CmpOp.EQ, left=a.Name(parts=("email",)), right=a.StringLit(value=value)),
        a.Compare(op=a.CmpOp.EQ, left=a.Name(parts=(value,)), right=a.IntLit(value=1)),
    ):
        diags = segql.check(tree, S)
        assert [d.code for d in diags] == ["invalid-character"]
        assert "\0" not in render(diags[0])
        render(diags[0]).encode("utf-8")
        diags[0].to_json().encode("utf-8")
        raises(lambda t=tree: segql.to_sql(t, S, as_of=AS_OF), "invalid-character")
        raises(
            lambda t=tree: segql.matches(t, S, contact={"id": 1}, as_of=AS_OF), "invalid-character"
        )


def test_messages_quoting_user_text_escape_control_characters() -> None:
    tree = a.Compare(op=a.CmpOp.EQ, left=a.Name(parts=("\x1b[31mred",)), right=a.IntLit(value=1))
    (d,) = segql.check(tree, S)
    assert d.code == "unknown-name"
    assert "\x1b" not in d.message and "\\x1b[31mred" in d.message
    tree = a.Has(stream=a.Name(parts=("ord\ud800ers",)))
    (d,) = segql.check(tree, S)
    render(d).encode("utf-8")


def test_nul_outside_strings_is_a_syntax_error_that_prints() -> None:
    for text in ("age > 1\0", "`a\0b` > 1", "email = 'a\0b'", "email = '\\0'"):
        try:
            diags = segql.check(text, S)
        except Exception as e:  # pragma: no cover - the point of the test
            raise AssertionError(text) from e
        assert diags and all(d.is_error for d in diags), text
        for d in diags:
            assert "\0" not in render(d)
        raises(lambda t=text: segql.to_sql(t, S, as_of=AS_OF), diags[0].code)


def test_parsed_trees_are_accepted_by_to_sql_and_matches() -> None:
    tree = segql.parse("age > 3")
    assert segql.to_sql(tree, S, as_of=AS_OF) == segql.to_sql("age > 3", S, as_of=AS_OF)
    assert segql.matches(tree, S, contact={"id": 1, "age": 4}, as_of=AS_OF)


# =======================================================================================
# Fuzzing: generated extreme numbers, times and names
# =======================================================================================

_SCHEMAS = [S, LA, TOKYO, shop_schema("Pacific/Kiritimati"), shop_schema("Etc/GMT+12")]

# --- expression text -----------------------------------------------------------------

_int_text = st.one_of(
    st.sampled_from(
        ["0", "1", "7", "18", "19", "9223372036854775807", "9223372036854775808", "1_000",
         "1" + "0" * 38, "1" + "0" * 400, "9" * 4400]
    ),
    st.integers(0, 2**70).map(str),
)  # fmt: skip
_decimal_text = st.one_of(
    st.integers(0, 80).map(lambda k: "0." + "0" * k + "1"),
    st.integers(1, 60).map(lambda k: "9" * k + ".5"),
    st.decimals(min_value=0, max_value=Decimal("1e40"), allow_nan=False, allow_infinity=False).map(
        lambda d: format(d, "f") if "." in format(d, "f") else format(d, "f") + ".0"
    ),
)
_number = st.one_of(_int_text, _decimal_text, _int_text.map(lambda t: "-" + t))


@st.composite
def _timestamp_text(draw: Any) -> str:
    moment = draw(
        st.one_of(
            st.sampled_from(
                [dt.datetime(1, 1, 1), dt.datetime.max, dt.datetime(1, 1, 1, 13, 59),
                 dt.datetime(9999, 12, 31, 10), dt.datetime(2026, 6, 1, 12)]
            ),
            st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime.max),
        )
    )  # fmt: skip
    text = moment.isoformat()
    zone = draw(
        st.one_of(
            st.sampled_from(["", "Z", "+14:00", "-12:00", "+05:45", "-23:59", "+23:59"]),
            st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
                lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
            ),
        )
    )
    return text + zone


_date_text = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "0001-01-02", "9999-12-30", "2000-02-29"]),
    st.dates().map(lambda d: d.isoformat()),
)
_duration_text = st.builds(
    lambda n, u: f"{n}{u}",
    st.one_of(
        st.sampled_from([1, 9998, 9999, 10000, 119988, 3652058, 3652059, 10**9, 10**20]),
        st.integers(1, 10**12),
        st.just(10**400),
    ),
    st.sampled_from(["s", "min", "h", "d", "w", "mo", "y"]),
)
_string_text = st.one_of(
    st.sampled_from(["'a\\0b'", "'\\u0000'", "'é'", "''", "'\\\\'", "'🎉'", "'DE'", "'\0'"]),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8).map(
        lambda s: format_expr(a.StringLit(value=s))
    ),
)
_name_text = st.one_of(
    st.sampled_from(
        ["age", "score", "credit", "email", "`first name`", "`by`", "country", "signup_at",
         "birthday", "tags", "purchases", "total_spent", "last_order", "avg_order",
         "`and`", "`\0`", "`a``b`", "`é`", "`🎉`", "`select`", "`\"x\"`", "ag\u0435",
         "`emailConsent`", "`signup_at\0`"]
    ),
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="`\n"),
        min_size=1,
        max_size=6,
    ).map(lambda s: f"`{s}`"),
)  # fmt: skip
_num_term = st.one_of(
    st.sampled_from(["age", "score", "credit", "purchases", "total_spent", "avg_order",
                     "days_since(signup_at)", "days_since(birthday)", "length(email)"]),
    _number,
)  # fmt: skip
_time_term = st.one_of(
    st.sampled_from(["signup_at", "birthday", "last_order", "last_open", "now", "today",
                     "first(orders)"]),
    _timestamp_text(),
    _date_text,
    _duration_text.map(lambda d: f"{d} ago"),
)  # fmt: skip


@st.composite
def _atom(draw: Any) -> str:
    kind = draw(st.integers(0, 17))
    cmp = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    x, y = draw(_num_term), draw(_num_term)
    t, u = draw(_time_term), draw(_time_term)
    d = draw(_duration_text)
    n = draw(_int_text)
    match kind:
        case 0:
            return f"{x} {cmp} {y}"
        case 1:
            op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
            return f"({x} {op} {y}) {cmp} {draw(_num_term)}"
        case 2:
            f = draw(st.sampled_from(["round", "floor", "ceil", "abs"]))
            digits = f", {draw(st.sampled_from(['', '-']))}{n}" if f == "round" else ""
            return f"{f}({x}{digits}) {cmp} {y}"
        case 3:
            return f"{t} {cmp} {u}"
        case 4:
            return f"{t} {draw(st.sampled_from(['<', '<=', '>', '>=']))} {d}"
        case 5:
            return f"{t} within {d}"
        case 6:
            f = draw(st.sampled_from(["year", "month", "day", "weekday", "days_since",
                                      "days_until_anniversary"]))  # fmt: skip
            return f"{f}({t}) {cmp} {x}"
        case 7:
            agg = draw(st.sampled_from(["count(orders", "sum(orders.amount", "has orders",
                                        "max(orders.quantity", "last(orders"]))  # fmt: skip
            where = draw(st.sampled_from(["", f" where amount > {x}", f" where ordered_at > {t}",
                                          " where category = 'a\\0'"]))  # fmt: skip
            within = draw(st.sampled_from(["", f" within {d}"]))
            if agg == "has orders":
                return f"{agg}{where}{within}"
            rhs = t if agg == "last(orders" else x
            return f"{agg}{where}{within}) {cmp} {rhs}"
        case 8:
            return f"{draw(_name_text)} {cmp} {draw(_string_text)}"
        case 9:
            field = draw(st.sampled_from(["email", "`first name`", "country", "tags"]))
            op = draw(st.sampled_from(["contains", "starts with", "ends with", "="]))
            return f"{field} {op} {draw(_string_text)}"
        case 10:
            return f"{t} between {u} and {draw(_time_term)}"
        case 11:
            return f"{draw(_name_text)} is null"
        case 12:
            return f"top {draw(st.one_of(_int_text, _decimal_text))}% by {x}"
        case 13:
            return f"percentile({draw(st.sampled_from([x, t]))}) {cmp} {y}"
        case 14:
            pair = draw(st.sampled_from([(t, u), (x, y)]))
            return f"coalesce({pair[0]}, {pair[1]}) {cmp} {pair[0]}"
        case 15:
            items = draw(st.sampled_from([(x, y), (t, u)]))
            neg = draw(st.sampled_from(["in", "not in"]))
            return f"{items[0]} {neg} [{items[0]}, {items[1]}, null]"
        case 16:
            return f"in segment {draw(st.sampled_from(['vip', 'lapsed_vip', 'buyers', 'nope']))}"
        case _:
            return draw(
                st.sampled_from(
                    [
                        f"lower(email) = {draw(_string_text)}",
                        f"length(tags) > {x}",
                        f"tags contains {draw(_string_text)}",
                        f"lucky_numbers contains {n}",
                        f"trim(`first name`) ends with {draw(_string_text)}",
                    ]
                )
            )


@st.composite
def hostile_exprs(draw: Any) -> str:
    parts = draw(st.lists(_atom(), min_size=1, max_size=3))
    glue = draw(st.sampled_from([" and ", " or ", " and not "]))
    return glue.join(parts)


# --- values ------------------------------------------------------------------------------

_odd_zones = st.sampled_from(
    [
        UTC,
        dt.timezone(dt.timedelta(hours=14)),
        dt.timezone(-dt.timedelta(hours=12)),
        dt.timezone(dt.timedelta(hours=5, minutes=45)),
        dt.timezone(-dt.timedelta(hours=23, minutes=59)),
    ]
)
_datetimes = st.one_of(
    st.sampled_from([dt.datetime.min, dt.datetime.max, dt.datetime(1, 1, 1, 12),
                     dt.datetime(9999, 12, 31, 12), dt.datetime(2026, 5, 31)]),
    st.datetimes(),
    st.builds(lambda d, z: d.replace(tzinfo=z), st.sampled_from([dt.datetime.min, dt.datetime.max]),
              _odd_zones),
    st.datetimes(timezones=_odd_zones),
)  # fmt: skip
_dates = st.one_of(st.sampled_from([dt.date.min, dt.date.max]), st.dates())
_ints = st.one_of(
    st.sampled_from([0, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**400]), st.integers()
)
_floats = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, -0.0, 5e-324, 1.7976931348623157e308]),
    st.floats(),
)
_decimals = st.one_of(
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-0"),
                     Decimal("1E+400"), Decimal("1E-400"), Decimal("9" * 38),
                     Decimal("9" * 37 + ".9"), Decimal("0." + "0" * 37 + "1"),
                     Decimal("0." + "1" * 2000)]),
    st.decimals(),
)  # fmt: skip
_texts = st.one_of(
    st.sampled_from(["", "a\0b", "\ud800", "🎉", "DE", "x" * 1000]),
    st.text(max_size=8),  # surrogates included
)
_anything = st.one_of(
    _ints, _floats, _decimals, _texts, _datetimes, _dates, st.booleans(), st.none()
)

_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "email": _texts,
    "first_name": _texts,
    "first name": _texts,
    "by": _texts,
    "country": _texts,
    "lead_source": _texts,
    "age": _ints,
    "score": st.one_of(_floats, _ints, _decimals),
    "credit": st.one_of(_decimals, _ints, _floats),
    "birthday": _dates,
    "signup_at": st.one_of(_datetimes, _dates),
    "email_consent": st.booleans(),
    "tags": st.lists(st.one_of(_texts, st.none()), max_size=3),
    "lucky_numbers": st.lists(st.one_of(_ints, st.none()), max_size=3),
}


@st.composite
def contacts(draw: Any) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(_FIELD_VALUES)), max_size=6, unique=True))
    out: dict[str, Any] = {"id": draw(_ints)}
    for k in keys:
        # Mostly the field's own kind of value; sometimes anything at all.
        out[k] = draw(st.one_of(_FIELD_VALUES[k], _FIELD_VALUES[k], _anything))
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(["emailConsent", "purchases", "orders", "\0"]))] = 1
    return out


_order = st.fixed_dictionaries(
    {"ordered_at": st.one_of(_datetimes, _dates, st.none())},
    optional={
        "amount": st.one_of(_decimals, _floats, _ints, st.none()),
        "category": st.one_of(_texts, st.none()),
        "quantity": st.one_of(_ints, st.none()),
        "gift": st.one_of(st.booleans(), st.none()),
    },
)
_open = st.fixed_dictionaries(
    {"at": st.one_of(_datetimes, st.none())},
    optional={"type": st.sampled_from(["open", "click"]), "campaign": _texts},
)


@st.composite
def event_sets(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["orders"] = draw(st.lists(_order, max_size=4))
    if draw(st.booleans()):
        out["email_opens"] = draw(st.lists(_open, max_size=3))
    if draw(st.integers(0, 9)) == 0:
        out["order"] = []
    return out


as_ofs = st.one_of(
    st.sampled_from([AS_OF, dt.datetime(1, 1, 1), dt.datetime.max, dt.date(1, 1, 1),
                     dt.date(9999, 12, 31), dt.datetime(5000, 1, 1)]),
    _datetimes,
    _dates,
)  # fmt: skip

_FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_FUZZ
@given(text=st.one_of(hostile_exprs(), st.text(max_size=40)), schema=st.sampled_from(_SCHEMAS))
def test_fuzz_parse_and_check(text: str, schema: Schema) -> None:
    try:
        segql.parse(text)
    except segql.SegqlError as e:
        printable(e)
    diags = segql.check(text, schema)  # never raises
    for d in diags:
        assert isinstance(d, Diagnostic)
        render(d).encode("utf-8")
        d.to_json().encode("utf-8")


@settings(_FUZZ, max_examples=200)
@given(text=hostile_exprs(), schema=st.sampled_from(_SCHEMAS), as_of=as_ofs)
def test_fuzz_to_sql_every_dialect(text: str, schema: Schema, as_of: Any) -> None:
    try:
        tree = typed(text, schema)
    except segql.SegqlError as e:
        printable(e)
        return
    for dialect in ALL_DIALECTS:
        try:
            sql = segql.to_sql(tree, schema, dialect=dialect, as_of=as_of)
        except segql.SegqlError as e:
            printable(e)
            continue
        assert "\0" not in sql
        sql.encode("utf-8")


@settings(_FUZZ, max_examples=500)
@given(
    text=hostile_exprs(),
    schema=st.sampled_from(_SCHEMAS),
    contact=contacts(),
    events=event_sets(),
    as_of=as_ofs,
)
def test_fuzz_matches(
    text: str, schema: Schema, contact: dict[str, Any], events: dict[str, Any], as_of: Any
) -> None:
    try:
        got = segql.matches(text, schema, contact=contact, events=events, as_of=as_of)
    except segql.SegqlError as e:
        printable(e)
        return
    assert got is True or got is False


# --- syntax trees a host builds: any name, any string, any number -----------------------

_tree_leaves = st.one_of(
    st.sampled_from(["age", "score", "credit", "email", "signup_at", "birthday", "tags",
                     "purchases", "last_order"]).map(lambda n: a.Name(parts=(n,))),
    st.text(max_size=4).filter(bool).map(lambda n: a.Name(parts=(n,))),
    st.text(max_size=6).map(lambda v: a.StringLit(value=v)),
    st.integers(0, 2**70).map(lambda v: a.IntLit(value=v)),
    st.decimals(min_value=0, allow_nan=False, allow_infinity=False).map(
        lambda v: a.DecimalLit(value=abs(v))
    ),
    st.dates().map(lambda v: a.DateLit(value=v)),
    _datetimes.map(lambda v: a.TimestampLit(value=v)),
    st.builds(
        a.DurationLit, amount=st.integers(1, 10**30), unit=st.sampled_from(list(a.DurationUnit))
    ),
    st.just(a.Now()),
    st.just(a.Today()),
)  # fmt: skip


@settings(_FUZZ, max_examples=150)
@given(
    tree=st.recursive(_tree_leaves, extend_trees, max_leaves=6),
    schema=st.sampled_from(_SCHEMAS),
    as_of=as_ofs,
)  # fmt: skip
def test_fuzz_syntax_trees(tree: a.Expr, schema: Schema, as_of: Any) -> None:
    diags = segql.check(tree, schema)  # never raises
    for d in diags:
        render(d).encode("utf-8")
    if any(d.is_error for d in diags):
        return
    for run in (
        lambda: segql.to_sql(tree, schema, as_of=as_of),
        lambda: segql.to_sql(tree, schema, dialect="sqlite", as_of=as_of),
        lambda: segql.matches(tree, schema, contact={"id": 1}, as_of=as_of),
    ):
        try:
            out = run()
        except segql.SegqlError as e:
            printable(e)
            continue
        if isinstance(out, str):
            assert "\0" not in out
            out.encode("utf-8")


_SCHEMA_DOC: dict[str, Any] = {
    "entity": {
        "table": "contacts",
        "key": "id",
        "fields": {
            "email": "string",
            "age": "integer",
            "score": "float",
            "credit": "decimal",
            "birthday": "date",
            "signup_at": "timestamp",
            "tags": "list<string>",
            "first name": {"type": "string", "column": "First Name"},
        },
    },
    "events": {
        "orders": {
            "table": "orders",
            "key": "contact_id",
            "time": "ordered_at",
            "fields": {"amount": "decimal", "category": "string", "quantity": "integer"},
        }
    },
    "traits": {"purchases": "count(orders)", "last_order": "last(orders)"},
}


@settings(_FUZZ, max_examples=100)
@given(
    text=hostile_exprs(),
    zone=st.sampled_from(["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"]),
    where=st.sampled_from(["trait", "segment", "filter"]),
)
def test_fuzz_load_schema(text: str, zone: str, where: str) -> None:
    """A hostile expression in a trait, a segment or a stream filter: a SchemaError with
    positions, or a schema that compiles."""
    doc = {**_SCHEMA_DOC, "timezone": zone}
    doc["traits"] = dict(_SCHEMA_DOC["traits"])
    doc["events"] = {"orders": dict(_SCHEMA_DOC["events"]["orders"])}
    if where == "trait":
        doc["traits"]["hostile"] = text
    elif where == "segment":
        doc["segments"] = {"hostile": {"where": text}}
    else:
        doc["events"]["orders"]["where"] = text
    try:
        schema = segql.load_schema(doc)
    except segql.SegqlError as e:
        printable(e)
        return
    try:
        segql.to_sql("has orders", schema, as_of=AS_OF)
    except segql.SegqlError as e:
        printable(e)


def test_top_percent_boundary_is_exact() -> None:
    """`top P%` compares ranks with 100 - P: computed in 28 digits, 100 - 49.99…96 was 50
    and let the middle of three contacts in."""
    data = _dataset([_contact(1, age=10), _contact(2, age=20), _contact(3, age=30)])
    con = load_duckdb(data)
    try:
        sql = segql.to_sql("top 49.99999999999999999999999999996% by age", S, as_of=AS_OF)
        assert set(run_rows(con, sql)) == {3}
        sql = segql.to_sql("top 50% by age", S, as_of=AS_OF)
        assert set(run_rows(con, sql)) == {2, 3}
    finally:
        con.close()


def test_a_table_named_like_segqls_own_ctes_is_refused(tmp_path: Path) -> None:
    """A statement's CTEs are `segql_<stream>`, `segql_settled`, … and a CTE hides a table
    of its name (DuckDB then failed to bind, or read the CTE): an unqualified source table
    named `segql_…` is refused where it is declared, and when a schema is built in code."""
    path = tmp_path / "schema.yaml"
    text = (
        "entity:\n  table: contacts\n  key: id\n  fields: {}\n"
        "events:\n  orders:\n    table: segql_orders\n    key: contact_id\n"
        "    time: ordered_at\n    fields: {}\n"
    )
    err = schema_errors(path, text)
    got = [(d.code, d.line) for d in err.diagnostics]
    assert got == [("reserved-table", 6)], got
    assert "public.segql_orders" in printable(err)
    path.write_text(text.replace("segql_orders", "crm.segql_orders"), encoding="utf-8")
    segql.load_schema(path)  # qualified: no CTE hides it
    schema = Schema(
        timezone="UTC",
        entity=Entity(source=Source(table="SEGQL_settled"), key="id", fields={}),
        streams={},
    )
    err = raises(lambda: segql.to_sql("true", schema, as_of=AS_OF), "reserved-table")
    assert "main.SEGQL_settled" in printable(err)
