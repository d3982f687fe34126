"""The in-process evaluator (`segql.matches`) on hand-built contacts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from shop_schema import shop_schema

import segql
from segql.ir import timecalc
from segql.lang.ast import DurationUnit

UTC = dt.UTC
AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
S = shop_schema()


def m(expr: str, contact: dict[str, Any] | None = None, *, schema: Any = S, **kw: Any) -> bool:
    kw.setdefault("as_of", AS_OF)
    return segql.matches(expr, schema, contact=contact or {"id": 1}, **kw)


def orders(*rows: tuple[Any, ...]) -> dict[str, list[dict[str, Any]]]:
    return {
        "orders": [{"ordered_at": t, "amount": a, "category": c, "gift": g} for t, a, c, g in rows]
    }


# --- three-valued logic ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("age > 3", False),
        ("not (age > 3)", False),
        ("age > 3 or true", True),
        ("age > 3 and false", False),
        ("not (age > 3 and false)", True),
        ("age > 3 or false", False),
        ("age is null", True),
        ("age = null", False),
        ("age != null", False),
        ("age in [1, 2]", False),
        ("age not in [1, 2]", False),
        ("age in []", False),
        ("age not in []", True),
        ("age between 1 and 2", False),
        ("coalesce(age, 5) = 5", True),
        ("email contains 'a'", False),
        ("not (email contains 'a')", False),
        ("tags contains 'a'", False),
        ("tags not contains 'a'", False),
        ("length(email) is null", True),
        ("age + 1 is null", True),
    ],
)
def test_nulls_everywhere(expr: str, expected: bool) -> None:
    assert m(expr) is expected


def test_in_list_with_null_item() -> None:
    assert m("country in ['DE', null]", {"country": "DE"}) is True
    assert m("country in ['FR', null]", {"country": "DE"}) is False
    assert m("not (country in ['FR', null])", {"country": "DE"}) is False  # unknown
    assert m("country not in ['FR', null]", {"country": "DE"}) is False


def test_between_is_inclusive_and_three_valued() -> None:
    assert m("age between 18 and 65", {"age": 18}) is True
    assert m("age between 18 and 65", {"age": 65}) is True
    assert m("age between 18 and 65", {"age": 66}) is False
    assert m("not (age between 18 and credit)", {"age": 10}) is True  # 18 <= 10 is false
    assert m("not (age between 1 and credit)", {"age": 10}) is False  # unknown


def test_in_segment_is_two_valued() -> None:
    # vip: purchases >= 5 and total_spent > 1000 — false here, never unknown.
    assert m("not in segment vip") is True
    assert m("in segment vip or age is null") is True


# --- strings ----------------------------------------------------------------------------


def test_string_matching_is_literal_and_case_sensitive() -> None:
    c = {"email": "it's%_@x.com"}
    assert m("email contains '%_'", c)
    assert not m("email contains '%a'", c)
    assert m("email starts with 'it''s'", c)
    assert not m("email starts with 'IT'", c)
    assert m("email ends with '.com'", c)
    assert m("email contains ''", c)
    assert m("lower('ÀB') = 'àb'")
    assert m("trim('  x  ') = 'x'")
    assert m("length('Zoë') = 3")


# --- numbers ----------------------------------------------------------------------------


def test_arithmetic() -> None:
    c = {"age": 7, "credit": Decimal("2.50"), "score": 0.5}
    assert m("age / 2 = 3.5", c)
    assert m("age / 0 is null", c)
    assert m("age % 0 is null", c)
    assert m("-age % 3 = -1", c)
    assert m("age % -3 = 1", c)
    assert m("credit * 2 = 5", c)
    assert m("credit + score = 3", c)
    assert m("round(credit) = 3 and round(-credit) = -3", c)
    assert m("round(2.45, 1) = 2.5 and floor(credit) = 2 and ceil(credit) = 3", c)
    assert m("abs(-age) = 7", c)


# --- time -------------------------------------------------------------------------------


def test_ages_and_windows_on_exact_boundaries() -> None:
    boundary = AS_OF - dt.timedelta(days=30)
    ev = orders((boundary, Decimal(5), "shoes", False))
    assert m("last_order <= 30d", events=ev)
    assert not m("last_order < 30d", events=ev)
    assert m("last_order >= 30d", events=ev)
    assert not m("last_order > 30d", events=ev)
    assert m("has orders within 30d", events=ev)
    assert m("last_order within 30d", events=ev)
    assert not m(
        "has orders within 30d", events=orders((boundary - dt.timedelta(seconds=1), 1, "x", 0))
    )


def test_events_after_as_of_are_invisible() -> None:
    ev = orders((AS_OF + dt.timedelta(seconds=1), Decimal(99), "shoes", False))
    assert m("purchases = 0 and total_spent = 0 and last_order is null", events=ev)
    assert m("not has orders", events=ev)
    at_as_of = orders((AS_OF, Decimal(1), "shoes", False))
    assert m("purchases = 1", events=at_as_of)


def test_null_event_times_never_count() -> None:
    assert m("purchases = 0", events=orders((None, Decimal(1), "x", False)))


def test_aggregates_over_no_events() -> None:
    e: dict[str, list[dict[str, Any]]] = {"orders": []}
    assert m("count(orders) = 0 and sum(orders.amount) = 0", events=e)
    assert m("count_distinct(orders.category) = 0", events=e)
    for agg in ("avg(orders.amount)", "min(orders.amount)", "max(orders.amount)"):
        assert m(f"{agg} is null", events=e)
    assert m("first(orders) is null and last(orders) is null", events=e)
    assert m("not has orders")  # no events key at all


def test_aggregate_values() -> None:
    t = AS_OF - dt.timedelta(days=1)
    ev = orders(
        (t, Decimal("10.5"), "shoes", True),
        (t, None, "shoes", None),
        (t - dt.timedelta(days=100), Decimal(2), "bags", False),
    )
    assert m("count(orders) = 3", events=ev)
    assert m("sum(orders.amount) = 12.5", events=ev)
    assert m("avg(orders.amount) = 6.25", events=ev)
    assert m("count_distinct(orders.category) = 2", events=ev)
    assert m("count(orders where gift) = 1", events=ev)
    assert m("count(orders where not gift) = 1", events=ev)  # null gift is excluded
    assert m("count(orders where category = 'shoes' within 90d) = 2", events=ev)
    assert m("min(orders.amount within 30d) = 10.5", events=ev)


def test_stream_filter_applies() -> None:
    e = {
        "email_opens": [
            {"at": AS_OF - dt.timedelta(days=1), "type": "click", "campaign": "x"},
            {"at": AS_OF - dt.timedelta(days=40), "type": "open", "campaign": "x"},
        ]
    }
    assert m("last_open > 30d", events=e)
    assert m("count(email_opens) = 1", events=e)


def test_calendar_months_clamp_to_month_end() -> None:
    aug31 = dt.datetime(2026, 8, 31, 9, 0, tzinfo=UTC)
    assert timecalc.ago(aug31, 6, DurationUnit.MONTH, UTC) == dt.datetime(
        2026, 2, 28, 9, 0, tzinfo=UTC
    )
    assert timecalc.ago(aug31, 6, DurationUnit.MONTH, UTC).day == 28
    leap = dt.datetime(2028, 8, 31, tzinfo=UTC)
    assert timecalc.ago(leap, 6, DurationUnit.MONTH, UTC).day == 29
    mar31 = dt.datetime(2026, 3, 31, tzinfo=UTC)
    assert timecalc.ago(mar31, 1, DurationUnit.MONTH, UTC).date() == dt.date(2026, 2, 28)
    feb29 = dt.datetime(2028, 2, 29, tzinfo=UTC)
    assert timecalc.ago(feb29, 1, DurationUnit.YEAR, UTC).date() == dt.date(2027, 2, 28)
    c = {"signup_at": dt.datetime(2026, 2, 28, 9, 0)}
    assert m("signup_at >= 6mo ago", c, as_of=aug31)
    assert not m("signup_at > 6mo ago", c, as_of=aug31)


@pytest.mark.parametrize(
    ("birthday", "as_of", "days"),
    [
        (dt.date(1992, 2, 29), dt.datetime(2026, 2, 28, tzinfo=UTC), 0),
        (dt.date(1992, 2, 29), dt.datetime(2026, 3, 1, tzinfo=UTC), 364),
        (dt.date(1992, 2, 29), dt.datetime(2028, 2, 28, tzinfo=UTC), 1),
        (dt.date(1992, 2, 29), dt.datetime(2028, 2, 29, tzinfo=UTC), 0),
        (dt.date(1990, 12, 31), dt.datetime(2026, 12, 31, 23, 59, tzinfo=UTC), 0),
        (dt.date(1990, 1, 1), dt.datetime(2026, 12, 31, tzinfo=UTC), 1),
        (dt.date(1990, 6, 2), dt.datetime(2026, 6, 1, tzinfo=UTC), 1),
        (dt.date(1990, 5, 31), dt.datetime(2027, 6, 1, tzinfo=UTC), 365),
        (dt.date(1990, 5, 31), dt.datetime(2028, 6, 1, tzinfo=UTC), 364),
    ],
)
def test_days_until_anniversary(birthday: dt.date, as_of: dt.datetime, days: int) -> None:
    assert m(f"days_until_anniversary(birthday) = {days}", {"birthday": birthday}, as_of=as_of)


def test_timezone_sensitive_calendar() -> None:
    la = shop_schema("America/Los_Angeles")
    kiri = shop_schema("Pacific/Kiritimati")  # UTC+14
    as_of = dt.datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # May 31 in LA, June 1 in Kiritimati
    c = {"signup_at": dt.datetime(2026, 6, 1, 1, 0)}
    assert m("month(signup_at) = 5 and day(signup_at) = 31", c, schema=la, as_of=as_of)
    assert m("month(signup_at) = 6 and day(signup_at) = 1", c, schema=kiri, as_of=as_of)
    assert m("weekday(signup_at) = 7", c, schema=la, as_of=as_of)  # Sunday May 31
    assert m("weekday(signup_at) = 1", c, schema=kiri, as_of=as_of)
    # today: start of as_of's day in the schema zone.
    early = {"signup_at": dt.datetime(2026, 5, 31, 8, 0)}
    assert m("signup_at >= today", early, schema=la, as_of=as_of)  # LA: May 31 07:00Z
    assert not m("signup_at >= today", early, schema=kiri, as_of=as_of)  # June 1 00:00+14
    b = {"birthday": dt.date(1990, 6, 1)}
    assert m("days_until_anniversary(birthday) = 1", b, schema=la, as_of=as_of)
    assert m("days_until_anniversary(birthday) = 0", b, schema=kiri, as_of=as_of)
    # A date widens to midnight in the schema zone.
    d = {"birthday": dt.date(2026, 5, 31), "signup_at": dt.datetime(2026, 5, 31, 6, 59)}
    assert m("signup_at < birthday", d, schema=la, as_of=as_of)
    assert m("days_since(birthday) = 0", d, schema=la, as_of=as_of)


def test_days_since() -> None:
    c = {"signup_at": AS_OF - dt.timedelta(days=3, seconds=1)}
    assert m("days_since(signup_at) = 3", c)
    c = {"signup_at": AS_OF + dt.timedelta(seconds=1)}
    assert m("days_since(signup_at) = -1", c)


def test_naive_values_are_utc() -> None:
    c = {"signup_at": dt.datetime(2026, 6, 1, 11, 0)}
    assert m("signup_at within 1h", c, as_of=dt.datetime(2026, 6, 1, 12, 0))
    aware = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert m("signup_at = now", {"signup_at": dt.datetime(2026, 6, 1, 12)}, as_of=aware)


# --- refusals and bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    "expr", ["top 10% by total_spent", "percentile(age) > 50", "ntile(total_spent, 5) = 5"]
)
def test_population_functions_are_refused(expr: str) -> None:
    with pytest.raises(segql.CheckError) as info:
        m(expr)
    assert info.value.code == "needs-population"
    assert "database" in " ".join(info.value.diagnostic.hints)


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        ({"age": "30"}, "age"),
        ({"age": True}, "age"),
        ({"email_consent": 1}, "email_consent"),
        ({"birthday": "1990-01-01"}, "birthday"),
        ({"birthday": dt.datetime(1990, 1, 1)}, "birthday"),
        ({"tags": "vip"}, "tags"),
    ],
)
def test_bad_input_types(contact: dict[str, Any], field: str) -> None:
    expr = f"{'`by`' if field == 'by' else field} is null"
    with pytest.raises(segql.SegqlError) as info:
        m(expr, contact)
    assert info.value.code == "bad-input"
    assert f"`{field}`" in info.value.diagnostic.message


def test_accepted_python_types() -> None:
    c = {"credit": 2.5, "score": Decimal("1.5"), "tags": ("vip",), "signup_at": dt.date(2026, 1, 1)}
    assert m("credit = 2.5 and score = 1.5 and tags contains 'vip'", c)
    assert m("signup_at = 2026-01-01T00:00:00Z", c)


def test_missing_keys_are_null() -> None:
    assert m("age is null", {"id": 1})


def test_unknown_keys_are_refused_with_a_suggestion() -> None:
    """A misspelt key would otherwise read as null / no events: a silent False (issue 9,
    item 18)."""
    with pytest.raises(segql.EngineError) as err:
        m("email_consent", {"id": 1, "emailConsent": True})
    assert err.value.code == "unknown-name"
    assert "did you mean `email_consent`?" in err.value.diagnostic.hints
    with pytest.raises(segql.EngineError) as err:
        m("has orders", events={"order": []})
    assert err.value.code == "unknown-name"
    assert "did you mean `orders`?" in err.value.diagnostic.hints
    with pytest.raises(segql.EngineError, match="is a trait"):
        m("purchases > 1", {"id": 1, "purchases": 3})
    # The key is accepted under its column name, and fields under their names.
    assert m("`first name` = 'Ann'", {"id": 1, "first name": "Ann"})


def test_compiled_once_and_cached() -> None:
    from segql import pipeline

    m("age > 1 and purchases > 0")
    before = len(pipeline._PREDICATES.entries)
    for _ in range(5):
        m("age > 1 and purchases > 0")
    assert len(pipeline._PREDICATES.entries) == before


def test_the_predicate_cache_is_safe_under_threads() -> None:
    """Many threads, more distinct segments than the cache holds: every answer is right
    and the cache stays bounded."""
    from concurrent.futures import ThreadPoolExecutor

    from segql import pipeline

    def work(i: int) -> bool:
        k = i % 400  # more than the 256 entries, so entries are evicted meanwhile
        return segql.matches(
            f"age > {k}", S, contact={"id": 1, "age": 200}, as_of=dt.date(2026, 1, 1)
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(work, range(4000)))
    assert got == [i % 400 < 200 for i in range(4000)]
    assert len(pipeline._PREDICATES.entries) <= pipeline._PREDICATES.size
