"""Every function and aggregate of the language, declared once.

The checker types calls from these declarations, each back end registers one implementation
per name (a test fails when one is missing), the REPL completes from them and
docs/language.md's function table is checked against them. Adding a function is one entry
here plus its implementations.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import NamedTuple


class FunctionKind(enum.Enum):
    SCALAR = "scalar"  # f(x, …) on values of the contact or of one event
    AGGREGATE = "aggregate"  # f(stream[.field] [where …] [within …]) over a contact's events
    POPULATION = "population"  # needs every contact (refused in-process)
    CHANNEL = "channel"  # the checker rewrites it into conditions on profile fields


class ArgKind(enum.Enum):
    """What a scalar function's argument must be; the value is the checker's wording."""

    STRING = "a string"
    NUMBER = "a number"
    STRING_OR_LIST = "a string or a list"
    TEMPORAL = "a date or timestamp"
    DIGITS = "a whole number written in the expression"  # round's n: a constant
    SALT = "a string written in the expression"  # bucket's salt: a constant
    CHANNEL = "a channel name written in the expression"  # reachable_by's channel
    ANY = "a value"  # coalesce: any type, unified across the arguments


class Returns(enum.Enum):
    """The result type of a scalar call, from its arguments' types."""

    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DATE = "date"
    TIMESTAMP = "timestamp"
    NUMERIC_OF_FIRST = "the numeric type of the first argument"  # integer stays integer
    COMMON = "the common type of the arguments"  # coalesce


class Empty(enum.Enum):
    """An aggregate's value over no events (CONTRACT §3.3)."""

    NULL = "null"
    ZERO = "0"


class FunctionDef(NamedTuple):
    """One function or aggregate. (A named tuple rather than a dataclass: the table is
    read on the first parse of every process, and a dataclass costs ~0.5 ms to create.)"""

    name: str
    kind: FunctionKind
    signature: str  # as shown in docs and completion, e.g. "round(x, n)"
    summary: str  # one line for docs and completion
    examples: tuple[str, ...] = ()
    completion: str = "number"  # the kind of value, for completion: number/string/time/…
    params: tuple[ArgKind, ...] = ()  # scalars: each parameter's kind
    optional: int = 0  # scalars: how many trailing parameters may be left out
    variadic: bool = False  # scalars: the last parameter repeats
    returns: Returns = Returns.INTEGER  # scalars
    empty: Empty = Empty.NULL  # aggregates: the value over no events

    @property
    def min_args(self) -> int:
        return len(self.params) - self.optional

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)


def _f(
    name: str,
    kind: FunctionKind,
    signature: str,
    summary: str,
    *examples: str,
    completion: str = "number",
    params: tuple[ArgKind, ...] = (),
    optional: int = 0,
    variadic: bool = False,
    returns: Returns = Returns.INTEGER,
    empty: Empty = Empty.NULL,
) -> FunctionDef:
    return FunctionDef(
        name=name,
        kind=kind,
        signature=signature,
        summary=summary,
        examples=examples,
        completion=completion,
        params=params,
        optional=optional,
        variadic=variadic,
        returns=returns,
        empty=empty,
    )


_S, _A, _P = FunctionKind.SCALAR, FunctionKind.AGGREGATE, FunctionKind.POPULATION

_STR, _NUM, _TIME = (ArgKind.STRING,), (ArgKind.NUMBER,), (ArgKind.TEMPORAL,)

_TABLE = (
    _f("lower", _S, "lower(s)", "the string in lower case", "lower(city) = 'berlin'",
       completion="string", params=_STR, returns=Returns.STRING),
    _f("upper", _S, "upper(s)", "the string in upper case", "upper(country) = 'DE'",
       completion="string", params=_STR, returns=Returns.STRING),
    _f("trim", _S, "trim(s)", "the string without leading and trailing spaces",
       "trim(name) != ''", completion="string", params=_STR, returns=Returns.STRING),
    _f("length", _S, "length(s)", "characters of a string, or elements of a list",
       "length(tags) >= 2", params=(ArgKind.STRING_OR_LIST,)),
    _f("abs", _S, "abs(x)", "the absolute value", "abs(balance) > 100", params=_NUM,
       returns=Returns.NUMERIC_OF_FIRST),
    _f("sign", _S, "sign(x)", "−1, 0 or 1 as x is negative, zero or positive",
       "sign(balance) = -1", params=_NUM),
    _f("round", _S, "round(x, n)",
       "rounded to n digits (default 0), halves away from zero; n is a whole number from "
       "−18 to 18 written in the expression", "round(avg(orders.amount)) = 50",
       params=(ArgKind.NUMBER, ArgKind.DIGITS), optional=1,
       returns=Returns.NUMERIC_OF_FIRST),
    _f("floor", _S, "floor(x)", "the largest whole number not above x", "floor(score) = 3",
       params=_NUM, returns=Returns.NUMERIC_OF_FIRST),
    _f("ceil", _S, "ceil(x)", "the smallest whole number not below x", "ceil(score) = 4",
       params=_NUM, returns=Returns.NUMERIC_OF_FIRST),
    _f("coalesce", _S, "coalesce(a, b, …)", "the first non-null value",
       "coalesce(nickname, name) = 'Ann'", completion="any", params=(ArgKind.ANY,),
       variadic=True, returns=Returns.COMMON),
    _f("year", _S, "year(t)", "the calendar year in the schema time zone",
       "year(signup_at) = 2025", params=_TIME),
    _f("month", _S, "month(t)", "the month 1..12 in the schema time zone",
       "month(birthday) = 12", params=_TIME),
    _f("day", _S, "day(t)", "the day of the month 1..31 in the schema time zone",
       "day(birthday) = 24", params=_TIME),
    _f("weekday", _S, "weekday(t)", "the day of the week, 1 = Monday .. 7 = Sunday",
       "weekday(last_order) >= 6", params=_TIME),
    _f("date", _S, "date(t)", "t's calendar date in the schema time zone",
       "date(last_order) = date(last(cart_adds))", completion="time", params=_TIME,
       returns=Returns.DATE),
    _f("start_of_week", _S, "start_of_week(t)",
       "midnight (schema time zone) of the Monday of t's week",
       "signup_at >= start_of_week(now)", completion="time", params=_TIME,
       returns=Returns.TIMESTAMP),
    _f("start_of_month", _S, "start_of_month(t)",
       "midnight (schema time zone) of the first day of t's month",
       "signup_at >= start_of_month(now)", completion="time", params=_TIME,
       returns=Returns.TIMESTAMP),
    _f("start_of_year", _S, "start_of_year(t)",
       "midnight (schema time zone) of January 1 of t's year",
       "first_order >= start_of_year(now)", completion="time", params=_TIME,
       returns=Returns.TIMESTAMP),
    _f("days_since", _S, "days_since(t)", "whole days from t to as_of",
       "days_since(last_order) > 30", params=_TIME),
    _f("days_until_anniversary", _S, "days_until_anniversary(d)",
       "0..365 days until the next occurrence of d's month and day (Feb 29 falls on "
       "Feb 28 in other years)", "days_until_anniversary(birthday) <= 7", params=_TIME),
    _f("distance_km", _S, "distance_km(lat1, lon1, lat2, lon2)",
       "kilometres along the earth's surface between two points given in degrees "
       "(haversine, radius 6371.0088 km)", "distance_km(lat, lon, 52.52, 13.405) < 50",
       params=_NUM * 4, returns=Returns.FLOAT),
    _f("bucket", _S, "bucket(salt)",
       "0..9999, fixed per contact and salt: the first 8 hex digits of md5(salt ':' key) "
       "mod 10000, the same on every engine", "bucket('spring-test') < 5000",
       params=(ArgKind.SALT,)),
    _f("reachable_by", FunctionKind.CHANNEL, "reachable_by(channel)",
       "true when the channel's consent is true and its address is not null (never "
       "unknown); channels are declared in the schema's `channels:`",
       "reachable_by('email')", completion="boolean", params=(ArgKind.CHANNEL,)),
    _f("percentile", _P, "percentile(x)",
       "100 × PERCENT_RANK() of x among all contacts with a non-null x",
       "percentile(total_spent) >= 90"),
    _f("ntile", _P, "ntile(x, n)",
       "1..n: which of n equal-size groups, by x and then the key, the contact falls in "
       "among all contacts with a non-null x; n is a whole number written in the expression",
       "ntile(total_spent, 5) = 5"),
    _f("count", _A, "count(stream)", "the number of events", "count(orders) > 3",
       empty=Empty.ZERO),
    _f("count_distinct", _A, "count_distinct(stream.field)",
       "the number of distinct non-null values", "count_distinct(orders.category) >= 3",
       empty=Empty.ZERO),
    _f("sum", _A, "sum(stream.field)", "the sum of the values (0 with no events)",
       "sum(orders.amount) > 1000", empty=Empty.ZERO),
    _f("avg", _A, "avg(stream.field)", "the mean of the non-null values",
       "avg(orders.amount) > 80"),
    _f("median", _A, "median(stream.field)",
       "the median of the non-null numbers (the mean of the middle two)",
       "median(sessions.minutes) > 10"),
    _f("min", _A, "min(stream.field)", "the smallest value", "min(orders.amount) >= 10",
       completion="any"),
    _f("max", _A, "max(stream.field)", "the largest value", "max(orders.amount) > 500",
       completion="any"),
    _f("first_value", _A, "first_value(stream.field)",
       "the field of the earliest event where it is not null (ties in time: the smallest "
       "value)", "first_value(orders.channel) = 'instagram'", completion="any"),
    _f("last_value", _A, "last_value(stream.field)",
       "the field of the latest event where it is not null (ties in time: the greatest "
       "value)", "last_value(page_views.product) = 'boots'", completion="any"),
    _f("mode", _A, "mode(stream.field)",
       "the most frequent non-null value (ties: the smallest)",
       "mode(orders.category) = 'shoes'", completion="any"),
    _f("first", _A, "first(stream)", "the time of the earliest event", "first(orders) > 1y",
       completion="time"),
    _f("last", _A, "last(stream)", "the time of the latest event",
       "last(email_opens) < 30d", completion="time"),
)  # fmt: skip

FUNCTIONS: Mapping[str, FunctionDef] = {f.name: f for f in _TABLE}
AGGREGATES = frozenset(f.name for f in _TABLE if f.kind is FunctionKind.AGGREGATE)


def lookup(name: str) -> FunctionDef | None:
    """The declaration of ``name`` (case-insensitive), or None."""
    return FUNCTIONS.get(name.lower())


def markdown(kind: FunctionKind | None = None) -> str:
    """A table of docs/language.md (a test keeps them equal): the aggregates for
    ``FunctionKind.AGGREGATE``, else the other functions."""
    if kind is FunctionKind.AGGREGATE:
        rows = ["| aggregate | value | with no events | example |", "| --- | --- | --- | --- |"]
        for f in _TABLE:
            if f.kind is FunctionKind.AGGREGATE:
                example = f"`{f.examples[0]}`" if f.examples else ""
                empty = "0" if f.empty is Empty.ZERO else "null"
                rows.append(f"| `{f.signature}` | {f.summary} | {empty} | {example} |")
        return "\n".join(rows) + "\n"
    rows = ["| function | meaning | example |", "| --- | --- | --- |"]
    for f in _TABLE:
        if f.kind is not FunctionKind.AGGREGATE:
            example = f"`{f.examples[0]}`" if f.examples else ""
            rows.append(f"| `{f.signature}` | {f.summary} | {example} |")
    return "\n".join(rows) + "\n"
