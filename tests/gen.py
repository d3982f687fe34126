"""Hypothesis generators shared by the differential and property tests.

``expressions()`` draws well-typed boolean segql text over the schema of
``tests/shop_schema.py``; ``datasets()`` draws contacts and events with nulls, duplicates,
timestamps exactly on window boundaries and events after as_of. Values are chosen so that
every engine computes them exactly (decimals in quarters, whole seconds), so any
disagreement is a semantic bug, not rounding.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from corpus_data import CONTACT_COLUMNS, EMAIL_COLUMNS, ORDER_COLUMNS
from engines import Dataset, Table
from hypothesis import strategies as st
from shop_schema import shop_schema

AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

# Offsets from as_of in seconds: exact window boundaries, just inside and outside, future.
_DAY = 86400
_OFFSETS = [
    0, 1, -1, _DAY, 30 * _DAY, 30 * _DAY - 1, 30 * _DAY + 1, 7 * _DAY, 90 * _DAY, 180 * _DAY,
    365 * _DAY, 2 * 365 * _DAY, 12 * 3600, 5 * _DAY + 17, -5 * _DAY, 60 * _DAY,
]  # fmt: skip
_SCHEMA = shop_schema()

dates = st.one_of(
    st.none(),
    st.sampled_from(
        [dt.date(1992, 2, 29), dt.date(2000, 6, 1), dt.date(1990, 6, 3), dt.date(1980, 12, 31)]
    ),
    st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2026, 12, 31)),
)
_boundary = st.sampled_from(_OFFSETS).map(lambda s: AS_OF - dt.timedelta(seconds=s))
timestamps = st.one_of(
    st.none(),
    _boundary,
    _boundary,
    st.integers(-10 * _DAY, 800 * _DAY).map(lambda s: AS_OF - dt.timedelta(seconds=s)),
)
TAG_VALUES = ["vip", "a", "b"]
quarters = st.integers(-400, 4000).map(lambda q: Decimal(q) / 4)
strings = st.one_of(
    st.none(),
    st.sampled_from(["", "a", "ab", "Ann", "ann@example.com", "it's%_", "x_y", "DE", "vip"]),
    st.text(alphabet="ab%_'\\ é", max_size=5),
)


ZONES = ["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe"]


@st.composite
def datasets(draw: Any, zoned: bool = False) -> Dataset:
    """``zoned``: the schema's time zone is one with daylight-saving changes (or a half-hour
    offset), so calendar days, weeks and months differ from multiples of 24 hours."""
    schema = shop_schema(draw(st.sampled_from(ZONES))) if zoned else _SCHEMA
    n = draw(st.integers(1, 7))
    contacts = []
    for cid in range(1, n + 1):
        contacts.append(
            (
                cid,
                draw(strings),
                draw(strings),
                draw(st.one_of(st.none(), st.integers(-5, 90))),
                draw(st.one_of(st.none(), st.sampled_from(["DE", "US", "FR", "AT"]))),
                draw(dates),
                draw(timestamps),
                draw(st.one_of(st.none(), st.sampled_from(["paid", "organic"]))),
                draw(st.one_of(st.none(), st.booleans())),
                draw(st.one_of(st.none(), quarters.map(float))),
                draw(st.one_of(st.none(), quarters)),
                draw(
                    st.one_of(st.none(), st.lists(st.sampled_from(["vip", "a", "b"]), max_size=3))
                ),
                draw(
                    st.one_of(
                        st.none(), st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=3)
                    )
                ),
                draw(strings),
                draw(strings),
                draw(st.one_of(st.none(), st.sampled_from(["+33 6 12 34 56 78", "", "0612"]))),
                draw(st.one_of(st.none(), st.booleans())),
            )
        )
    keys = st.one_of(st.integers(1, n + 1), st.none())
    orders = draw(
        st.lists(
            st.tuples(
                keys,
                timestamps,
                st.one_of(st.none(), quarters),
                st.one_of(st.none(), st.sampled_from(["shoes", "bags", "books"])),
                strings,
                st.one_of(st.none(), st.integers(0, 5)),
                st.one_of(st.none(), st.booleans()),
            ),
            max_size=14,
        )
    )
    orders += orders[: draw(st.integers(0, 2))]  # exact duplicates
    emails = draw(
        st.lists(
            st.tuples(
                keys,
                timestamps,
                st.one_of(st.none(), st.sampled_from(["open", "click", "send"])),
                st.one_of(st.none(), st.sampled_from(["may", "june"])),
            ),
            max_size=10,
        )
    )
    return Dataset(
        schema=schema,
        tables={
            "contacts": Table(CONTACT_COLUMNS, contacts),
            "orders": Table(ORDER_COLUMNS, orders),
            "email_events": Table(EMAIL_COLUMNS, emails),
        },
    )


# --- expressions -------------------------------------------------------------------------

_NUM_FIELDS = ["age", "score", "credit"]
NULLABLE = ["age", "email", "last_order", "avg_order", "birthday", "tags", "score"]
_NUM_TERMS = [
    "purchases",
    "bucket('a')",
    "(bucket('spring-test') % 2)",
    "round(distance_km(score, age, 10, 20))",
    "median(orders.amount)",
    "count_distinct(date(orders.ordered_at) within 30d)",
    "max(month(email_opens.at))",
    "first_value(orders.amount)",
    "last_value(orders.quantity where gift)",
    "mode(orders.quantity within 90d)",
    "median(orders.quantity where gift within 90d)",
    "total_spent",
    # correlated: names that are not the stream's are the contact's
    "count(orders where amount > avg_order)",
    "count(orders where quantity < age)",
    "max(orders.amount where amount < total_spent / 2)",
    "last_value(orders.quantity where amount >= avg_order)",
    "count(orders where gift = contact.email_consent within 90d)",
    "count(orders where gift)",
    "count(orders within 30d)",
    "sum(orders.amount where category = 'shoes')",
    "count_distinct(orders.category)",
    "max(orders.quantity)",
    "min(orders.amount within 90d)",
    "avg(orders.amount)",
    "days_since(signup_at)",
    "year(birthday)",
    "month(signup_at)",
    "weekday(birthday)",
    "days_until_anniversary(birthday)",
    "length(email)",
    "coalesce(age, 0)",
    "abs(score)",
    "round(credit)",
    "floor(credit)",
]
_TIME_TERMS = [
    "last_order",
    "first_order",
    "first(orders where gift)",
    "last_open",
    "signup_at",
    "birthday",
    "date(last_order)",
    "start_of_week(signup_at)",
    "start_of_month(last_open)",
    "start_of_year(birthday)",
    "(signup_at + 1mo)",
    "(last_order - 12h)",
    "(birthday + 1w)",
]
_NUM_LITS = ["0", "1", "2", "3", "17", "-1", "0.25", "2.5", "100", "1000.75"]


@st.composite
def num_expr(draw: Any, depth: int = 0) -> str:
    choice = draw(st.integers(0, 9 if depth < 2 else 5))
    if choice <= 1:
        return str(draw(st.sampled_from(_NUM_FIELDS)))
    if choice <= 3:
        return str(draw(st.sampled_from(_NUM_TERMS)))
    if choice <= 5:
        return str(draw(st.sampled_from(_NUM_LITS)))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
    left = draw(num_expr(depth + 1))
    right = draw(num_expr(depth + 1))
    if op == "%":
        left, right = "age", draw(st.sampled_from(["2", "3", "-3", "0", "purchases"]))
    return f"({left} {op} {right})"


@st.composite
def predicate(draw: Any, depth: int = 0) -> str:
    kind = draw(st.integers(0, 17 if depth < 2 else 13))
    if kind <= 2:
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return f"{draw(num_expr())} {op} {draw(num_expr())}"
    if kind == 3:
        t = draw(st.sampled_from(_TIME_TERMS))
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        d = draw(st.sampled_from(["30d", "1d", "12h", "7d", "6mo", "1y", "2w", "90d"]))
        return f"{t} {op} {d}"
    if kind == 4:
        t = draw(st.sampled_from(_TIME_TERMS))
        d = draw(st.sampled_from(["30d", "1d", "7d", "1mo", "1y"]))
        # under `not`, a null time (a contact without such events) must stay unknown
        return f"not ({t} within {d})" if draw(st.booleans()) else f"{t} within {d}"
    if kind == 5:
        t = draw(st.sampled_from(_TIME_TERMS))
        lit = draw(st.sampled_from(["2026-05-02", "2026-05-02T12:00:00Z", "today", "now"]))
        return f"{t} {draw(st.sampled_from(['<', '>=', '=']))} {lit}"
    if kind == 6:
        f = draw(
            st.sampled_from(
                [
                    "email",
                    "first_name",
                    "`by`",
                    "`first name`",
                    "mode(orders.category)",
                    "last_value(orders.category within 90d)",
                    "first_value(email_opens.campaign)",
                ]
            )
        )
        op = draw(st.sampled_from(["contains", "not contains", "starts with", "ends with", "="]))
        lit = draw(st.sampled_from(["''", "'a'", "'%'", "'_'", "'it''s'", "'\\\\'", "'é'"]))
        return f"{f} {op} {lit}"
    if kind == 7:
        items = draw(st.lists(st.sampled_from(["'DE'", "'US'", "'AT'", "null"]), max_size=3))
        neg = draw(st.sampled_from(["in", "not in"]))
        return f"country {neg} [{', '.join(items)}]"
    if kind == 8:
        x = draw(
            st.sampled_from(
                ["age", "email", "last_order", "avg_order", "birthday", "tags", "score"]
            )
        )
        return f"{x} is {draw(st.sampled_from(['null', 'not null']))}"
    if kind == 9:
        return f"{draw(num_expr())} between {draw(num_expr())} and {draw(num_expr())}"
    if kind == 10:
        cond = draw(
            st.sampled_from(
                [
                    "",
                    " where amount > 10",
                    " where category = 'shoes'",
                    " where gift",
                    " where (not gift)",
                    " where (ordered_at within 7d)",
                ]
            )
        )
        within = draw(st.sampled_from(["", " within 30d", " within 1y"]))
        stream = draw(st.sampled_from(["orders", "email_opens"]))
        if stream == "email_opens":
            cond = draw(st.sampled_from(["", " where campaign = 'may'"]))
        if stream == "orders" and draw(st.booleans()):
            cond = draw(
                st.sampled_from(
                    [
                        cond,
                        " where amount > avg_order",
                        " where age > 20",
                        # the largest (smallest) field against the contact's value
                        " where (amount <= avg_order and gift)",
                        " where (avg_order < amount and category = 'shoes')",
                        " where quantity >= age / 20",
                        " where ordered_at > last_open",
                    ]
                )
            )
        form = draw(st.integers(0, 3))
        if form == 0:
            return f"has {stream}{cond}{within}"
        if form == 3:  # a sequence, perhaps with the earlier event's fields and the contact
            then = draw(st.sampled_from(["orders", "email_opens"]))
            conds = {
                "orders": ["", " where gift", " where amount > avg_order", " where amount >= 25"],
                "email_opens": ["", " where campaign = 'may'"],
            }[then]
            if stream == "orders" and then == "orders":
                conds = [*conds, " where product = orders.product", " where amount > orders.amount"]
            if stream == "email_opens" and then == "email_opens":
                conds = [*conds, " where campaign = email_opens.campaign"]
            cond2 = draw(st.sampled_from(conds))
            within2 = draw(
                st.sampled_from(["", " within 1d", " within 12h", " within 30d", " within 1mo"])
            )
            word = draw(st.sampled_from(["followed", "not followed"]))
            return f"has {stream}{cond}{within} {word} by {then}{cond2}{within2}"
        # Counts against small integers: the optimizer turns some into (not) has.
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        k = draw(st.sampled_from(["-1", "0", "1", "2"]))
        count = f"count({stream}{cond}{within})"
        return f"{count} {op} {k}" if form == 1 else f"{k} {op} {count}"
    if kind == 11:
        return str(draw(st.sampled_from(["email_consent", "not email_consent", "true", "false"])))
    if kind == 12:
        return f"in segment {draw(st.sampled_from(['vip', 'lapsed_vip', 'buyers']))}"
    if kind == 13:
        f, v = draw(st.sampled_from([("tags", "'vip'"), ("tags", "'a'"), ("lucky_numbers", "2")]))
        if draw(st.booleans()):
            return f"{f} {draw(st.sampled_from(['contains', 'not contains']))} {v}"
        pool = ["'vip'", "'a'", "'b'", "null"] if f == "tags" else ["0", "2", "3", "null"]
        items = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        return f"{f} contains {draw(st.sampled_from(['any', 'all']))} [{', '.join(items)}]"
    sub = [draw(predicate(depth + 1)) for _ in range(draw(st.integers(2, 3)))]
    if kind in (14, 15):
        return "(" + f" {draw(st.sampled_from(['and', 'or']))} ".join(sub) + ")"
    return f"not ({sub[0]})"


expressions = predicate()
