"""What differs between SQL dialects, owned by segql and verified by execution.

sqlglot builds and prints the SQL; this module decides the few constructs whose meaning
sqlglot's generic nodes do not preserve across engines: timestamp and date literals and
columns, time zone conversion, calendar parts, list functions. Each supported profile is
exercised by the test suite on a real engine; every other sqlglot dialect gets the
experimental generic profile (sqlglot's transpilation of DuckDB-flavoured SQL).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from segql.core.types import Type

__all__ = ["SUPPORTED", "Profile", "dialect_names", "experimental_dialects", "profile_for"]

SUPPORTED = ("duckdb", "postgres", "sqlite")


def _exp() -> Any:
    from sqlglot import exp

    return exp


@functools.cache
def _dtype_proto(name: str, dialect: str | None) -> Any:
    return _exp().DataType.build(name, dialect=dialect)


def dtype(name: str, dialect: str | None = None) -> Any:
    """A DataType node (parsed once per name, copied per use)."""
    return _dtype_proto(name, dialect).copy()


def _ts_text(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


class Profile:
    """DuckDB semantics; the base for the others."""

    name = "duckdb"
    sqlglot_name = "duckdb"
    supported = True
    lists = True
    time_zones = True

    # --- literals ---------------------------------------------------------------------
    def timestamp_literal(self, value: dt.datetime) -> Any:
        exp = _exp()
        return exp.cast(exp.Literal.string(_ts_text(value)), dtype("TIMESTAMP"), copy=False)

    def date_literal(self, value: dt.date) -> Any:
        exp = _exp()
        return exp.cast(exp.Literal.string(value.isoformat()), dtype("DATE"), copy=False)

    def true(self) -> Any:
        return _exp().true()

    def false(self) -> Any:
        return _exp().false()

    # --- columns ----------------------------------------------------------------------
    def timestamp_column(self, col: Any) -> Any:
        return col

    def date_column(self, col: Any) -> Any:
        return col

    # --- conversions ------------------------------------------------------------------
    def to_double(self, e: Any) -> Any:
        exp = _exp()
        return exp.cast(e, dtype("DOUBLE"), copy=False)

    def date_to_timestamp(self, d: Any, zone: str) -> Any:
        """Midnight of date ``d`` in ``zone`` as a naive UTC timestamp."""
        exp = _exp()
        ts = exp.cast(d, dtype("TIMESTAMP"), copy=False)
        if zone == "UTC":
            return ts
        return self._utc_of_local(ts, zone)

    def _utc_of_local(self, ts: Any, zone: str) -> Any:
        exp = _exp()
        local = exp.Anonymous(this="timezone", expressions=[exp.Literal.string(zone), ts])
        return exp.Anonymous(this="timezone", expressions=[exp.Literal.string("UTC"), local])

    def local_of_utc(self, ts: Any, zone: str) -> Any:
        """Wall-clock time in ``zone`` of a naive UTC timestamp."""
        if zone == "UTC":
            return ts
        exp = _exp()
        aware = exp.Anonymous(this="timezone", expressions=[exp.Literal.string("UTC"), ts])
        return exp.Anonymous(this="timezone", expressions=[exp.Literal.string(zone), aware])

    # --- calendar parts (of a local timestamp or a date) ------------------------------
    def part(self, unit: str, e: Any) -> Any:
        exp = _exp()
        if unit == "isodow":
            return exp.Anonymous(this="isodow", expressions=[e])
        return exp.Extract(this=exp.var(unit.upper()), expression=e)

    def days_between(self, as_of: dt.datetime, ts: Any) -> Any:
        """floor((as_of - ts) / 24h) as an integer."""
        exp = _exp()
        as_of_us = int(as_of.timestamp()) * 1_000_000 + as_of.microsecond
        diff = exp.Sub(
            this=exp.Literal.number(as_of_us),
            expression=exp.Anonymous(this="epoch_us", expressions=[ts]),
        )
        return self._floor_div(diff, 86_400_000_000)

    def _floor_div(self, a: Any, b: int) -> Any:
        exp = _exp()
        q = exp.Div(
            this=self.to_double(exp.Paren(this=a)),
            expression=exp.Literal.number(str(b) + ".0"),
            typed=True,
        )
        return exp.cast(exp.Floor(this=q), dtype("BIGINT"), copy=False)

    # --- numbers ----------------------------------------------------------------------
    def round(self, x: Any, digits: int, t: Type) -> Any:
        """``round(x, digits)``, halves away from zero; ``digits`` is in -18..18."""
        exp = _exp()
        return exp.Round(this=x, decimals=exp.Literal.number(digits) if digits else None)

    # --- lists ------------------------------------------------------------------------
    def list_contains(self, lst: Any, item: Any) -> Any:
        exp = _exp()
        return exp.Anonymous(this="list_contains", expressions=[lst, item])

    def list_length(self, lst: Any) -> Any:
        exp = _exp()
        return exp.Anonymous(this="len", expressions=[lst])

    def string_length(self, s: Any) -> Any:
        return _exp().Length(this=s)


class Postgres(Profile):
    name = "postgres"
    sqlglot_name = "postgres"

    def to_double(self, e: Any) -> Any:
        exp = _exp()
        return exp.cast(e, dtype("DOUBLE PRECISION", "postgres"), copy=False)

    def _utc_of_local(self, ts: Any, zone: str) -> Any:
        exp = _exp()
        aware = exp.AtTimeZone(this=ts, zone=exp.Literal.string(zone))
        return exp.AtTimeZone(this=aware, zone=exp.Literal.string("UTC"))

    def local_of_utc(self, ts: Any, zone: str) -> Any:
        if zone == "UTC":
            return ts
        exp = _exp()
        aware = exp.AtTimeZone(this=ts, zone=exp.Literal.string("UTC"))
        return exp.AtTimeZone(this=aware, zone=exp.Literal.string(zone))

    def part(self, unit: str, e: Any) -> Any:
        exp = _exp()
        return exp.cast(
            exp.Extract(this=exp.var(unit.upper()), expression=e),
            dtype("INT"),
            copy=False,
        )

    def days_between(self, as_of: dt.datetime, ts: Any) -> Any:
        exp = _exp()
        interval = exp.Sub(this=self.timestamp_literal(as_of), expression=ts)
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=exp.Paren(this=interval))
        q = exp.Div(this=seconds, expression=exp.Literal.number(86400), typed=True)
        return exp.cast(exp.Floor(this=q), dtype("BIGINT"), copy=False)

    def round(self, x: Any, digits: int, t: Type) -> Any:
        if t is Type.FLOAT:
            # Postgres rounds doubles half-to-even; numeric rounds half away from 0.
            x = _exp().cast(x, dtype("DECIMAL"), copy=False)
        return super().round(x, digits, t)

    def list_contains(self, lst: Any, item: Any) -> Any:
        exp = _exp()
        # `item = ANY(list)` is null when no element matches but one is null; segql
        # ignores null elements, so turn that null into false.
        anyx = exp.EQ(this=item, expression=exp.Any(this=exp.Paren(this=lst)))
        found = exp.Coalesce(this=anyx, expressions=[exp.false()])
        unknown = exp.or_(
            exp.Is(this=lst.copy(), expression=exp.null()),
            exp.Is(this=item.copy(), expression=exp.null()),
            copy=False,
        )
        return exp.Case(ifs=[exp.If(this=unknown, true=exp.null())], default=found)

    def list_length(self, lst: Any) -> Any:
        exp = _exp()
        return exp.Anonymous(this="cardinality", expressions=[lst])


class SQLite(Profile):
    """SQLite stores timestamps and dates as ISO-8601 text; segql normalises both sides to
    `YYYY-MM-DD HH:MM:SS.SSS` (UTC, millisecond precision) and compares text."""

    name = "sqlite"
    sqlglot_name = "sqlite"
    lists = False
    time_zones = False

    def timestamp_literal(self, value: dt.datetime) -> Any:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
        # isoformat, not strftime: `%Y` prints year 1 as `1`, not `0001`.
        text = value.isoformat(sep=" ", timespec="milliseconds")
        return _exp().Literal.string(text)

    def date_literal(self, value: dt.date) -> Any:
        return _exp().Literal.string(value.isoformat())

    def true(self) -> Any:
        return _exp().Literal.number(1)

    def false(self) -> Any:
        return _exp().Literal.number(0)

    def timestamp_column(self, col: Any) -> Any:
        exp = _exp()
        return exp.Anonymous(
            this="strftime", expressions=[exp.Literal.string("%Y-%m-%d %H:%M:%f"), col]
        )

    def date_column(self, col: Any) -> Any:
        exp = _exp()
        return exp.Anonymous(this="date", expressions=[col])

    def to_double(self, e: Any) -> Any:
        exp = _exp()
        return exp.cast(e, dtype("REAL", "sqlite"), copy=False)

    def date_to_timestamp(self, d: Any, zone: str) -> Any:
        exp = _exp()
        return exp.Anonymous(
            this="strftime", expressions=[exp.Literal.string("%Y-%m-%d %H:%M:%f"), d]
        )

    def local_of_utc(self, ts: Any, zone: str) -> Any:
        return ts

    def part(self, unit: str, e: Any) -> Any:
        exp = _exp()
        if unit == "isodow":
            w = exp.cast(
                exp.Anonymous(this="strftime", expressions=[exp.Literal.string("%w"), e]),
                dtype("INTEGER"),
                copy=False,
            )
            # %w is 0 = Sunday .. 6; ISO is 1 = Monday .. 7 = Sunday.
            shifted = exp.Mod(
                this=exp.Paren(this=exp.Add(this=w, expression=exp.Literal.number(6))),
                expression=exp.Literal.number(7),
            )
            return exp.Add(this=exp.Paren(this=shifted), expression=exp.Literal.number(1))
        fmt = {"year": "%Y", "month": "%m", "day": "%d"}[unit]
        return exp.cast(
            exp.Anonymous(this="strftime", expressions=[exp.Literal.string(fmt), e]),
            dtype("INTEGER"),
            copy=False,
        )

    def days_between(self, as_of: dt.datetime, ts: Any) -> Any:
        exp = _exp()
        jd = exp.Sub(
            this=exp.Anonymous(this="julianday", expressions=[self.timestamp_literal(as_of)]),
            expression=exp.Anonymous(this="julianday", expressions=[ts]),
        )
        ms = exp.cast(
            exp.Round(
                this=exp.Mul(this=exp.Paren(this=jd), expression=exp.Literal.number(86_400_000))
            ),
            dtype("INTEGER"),
            copy=False,
        )
        b = exp.Literal.number(86_400_000)
        # floor(a / b) for integers without floor(): (a - ((a % b) + b) % b) / b
        rem = exp.Mod(
            this=exp.Paren(this=exp.Add(this=exp.Mod(this=ms, expression=b), expression=b)),
            expression=b,
        )
        return exp.Div(
            this=exp.Paren(this=exp.Sub(this=ms, expression=rem)), expression=b, typed=True
        )

    def string_length(self, s: Any) -> Any:
        exp = _exp()
        return exp.Anonymous(this="length", expressions=[s])

    def round(self, x: Any, digits: int, t: Type) -> Any:
        """SQLite's ``round`` takes a negative ``digits`` as 0: round to a multiple of
        ``m = 10**-digits`` by hand, in integers for integers (no float detour)."""
        if digits >= 0:
            return super().round(x, digits, t)
        exp = _exp()
        m = 10**-digits
        if t is not Type.INTEGER:  # REAL: scale down, round, scale up
            scale = exp.Literal.number(f"{m}.0")
            down = exp.Div(this=x, expression=scale, typed=True)
            return exp.Mul(this=exp.Round(this=down), expression=scale.copy())
        lit = exp.Literal.number
        rem = exp.Mod(this=x.copy(), expression=lit(m))
        # x - x % m moves toward zero; a remainder of half m or more moves one m outwards.
        away = exp.Case(
            ifs=[exp.If(this=exp.LT(this=x.copy(), expression=lit(0)), true=lit(-m))],
            default=lit(m),
        )
        outwards = exp.Case(
            ifs=[
                exp.If(
                    this=exp.GTE(
                        this=exp.Mul(this=exp.Abs(this=rem.copy()), expression=lit(2)),
                        expression=lit(m),
                    ),
                    true=away,
                )
            ],
            default=lit(0),
        )
        return exp.Paren(
            this=exp.Add(
                this=exp.Sub(this=x, expression=exp.Paren(this=rem)),
                expression=outwards,
            )
        )


class Generic(Profile):
    """Any other sqlglot dialect: DuckDB-flavoured SQL transpiled by sqlglot. Experimental:
    not executed by segql's tests."""

    supported = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlglot_name = name


_PROFILES: dict[str, Profile] = {"duckdb": Profile(), "postgres": Postgres(), "sqlite": SQLite()}
_ALIASES = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite"}


def profile_for(dialect: str) -> Profile | None:
    """The profile of a dialect name, or None when sqlglot does not know it."""
    name = _ALIASES.get(dialect.lower(), dialect.lower())
    if name in _PROFILES:
        return _PROFILES[name]
    from sqlglot.dialects.dialect import Dialect

    try:
        Dialect.get_or_raise(name)
    except ValueError:
        return None
    return Generic(name)


def dialect_names() -> list[str]:
    """Every dialect name :func:`profile_for` accepts (supported, aliases, experimental)."""
    return sorted({*SUPPORTED, *_ALIASES, *experimental_dialects()})


def experimental_dialects() -> list[str]:
    from sqlglot.dialects.dialect import Dialects

    return sorted(d.value for d in Dialects if d.value and d.value not in SUPPORTED)
