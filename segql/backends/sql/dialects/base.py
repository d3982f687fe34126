"""What every dialect profile provides, and the capabilities that tell the compiler what
an engine can do (instead of testing dialect names)."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import Any

from segql.core.types import Type


class HasPlan(enum.Enum):
    """How `has E where C within D` is written, the plan each engine runs fastest."""

    EXISTS = "exists"  # a correlated EXISTS: planned as a semi (under `not`, anti) join
    COUNTED = "counted"  # counted in the stream's grouped pass, which is hash-joined
    IN_SET = "in_set"  # `key IN (SELECT key …)`: one hashed set of the stream's keys


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What the compiler may rely on; a construct an engine lacks is refused at compile
    time with `unsupported-construct`."""

    lists: bool = True  # a list column type and list functions
    time_zones: bool = True  # conversion between UTC and a named zone
    float_modulo: bool = True  # `%` on non-integers
    max_joins: int | None = None  # tables one SELECT may join
    max_depth: int | None = None  # expression nesting the engine's parser accepts
    # Planners that would otherwise inline a shared CTE into each use, writing the shared
    # expression out again (SQLite took 4.6 s to plan 20 doubled traits), keep it shared
    # when it is `MATERIALIZED` (SQLite 3.35+, PostgreSQL 12+).
    materialized_ctes: bool = True
    reads_files: bool = False  # table functions reading Parquet/CSV files in place
    has_plan: HasPlan = HasPlan.EXISTS
    median: bool = True  # an exact median aggregate
    # A condition on one required stream's aggregates repeated as its pass's HAVING, for
    # planners that would otherwise hash-join every contact's aggregates first
    filtered_passes: bool = False
    # A subquery may read columns of a query two levels out (a sequence's inner EXISTS
    # reading the contact); Spark resolves outer references one level out only.
    deep_correlation: bool = True
    # A bitwise-or aggregate over BIGINTs: a history's `has … within` as one mask of
    # points per contact (grid.window_mask)
    bitmasks: bool = True


def _exp() -> Any:
    from sqlglot import exp

    return exp


@functools.cache
def _dtype_proto(name: str, dialect: str | None) -> Any:
    return _exp().DataType.build(name, dialect=dialect)


def dtype(name: str, dialect: str | None = None) -> Any:
    """A DataType node (parsed once per name, copied per use)."""
    return _dtype_proto(name, dialect).copy()


def ts_text(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


class Profile:
    """How segql writes SQL for one dialect. The base writes sqlglot's typed nodes (each
    dialect prints its own spelling) with DuckDB's semantics, which the subclasses adjust
    where their engine differs."""

    name = "duckdb"
    sqlglot_name = "duckdb"
    title = "DuckDB"  # in messages
    caps = Capabilities()

    def timestamp_type(self) -> Any:
        """The type of a naive UTC timestamp with microseconds."""
        return dtype("TIMESTAMP")

    # --- literals ---------------------------------------------------------------------
    def timestamp_literal(self, value: dt.datetime) -> Any:
        exp = _exp()
        return exp.cast(exp.Literal.string(ts_text(value)), self.timestamp_type(), copy=False)

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

    def bit(self, mask: Any, i: int) -> Any:
        """Bit ``i`` of the BIGINT ``mask`` (0 or 1; null for a null mask)."""
        exp = _exp()
        shifted = exp.BitwiseRightShift(this=mask, expression=exp.Literal.number(i))
        return exp.BitwiseAnd(this=exp.Paren(this=shifted), expression=exp.Literal.number(1))

    def date_to_timestamp(self, d: Any, zone: str) -> Any:
        """Midnight of date ``d`` in ``zone`` as a naive UTC timestamp."""
        exp = _exp()
        ts = exp.cast(d, self.timestamp_type(), copy=False)
        if zone == "UTC":
            return ts
        return self._utc_of_local(ts, zone)

    def _utc_of_local(self, ts: Any, zone: str) -> Any:
        exp = _exp()
        return exp.ConvertTimezone(
            source_tz=exp.Literal.string(zone), target_tz=exp.Literal.string("UTC"), timestamp=ts
        )

    def utc_of_local(self, ts: Any, zone: str) -> Any:
        """The naive UTC timestamp of a wall-clock time in ``zone``."""
        return ts if zone == "UTC" else self._utc_of_local(ts, zone)

    def shift_time(self, ts: Any, amount: int, unit: str) -> Any | None:
        """``ts`` plus ``amount`` (signed) ``unit``s (SECOND … MONTH; month ends clamped),
        or None when the engine cannot."""
        exp = _exp()
        interval = exp.Interval(this=exp.Literal.string(str(abs(amount))), unit=exp.var(unit))
        ts = exp.Paren(this=ts)
        if amount < 0:
            return exp.Paren(this=exp.Sub(this=ts, expression=interval))
        return exp.Paren(this=exp.Add(this=ts, expression=interval))

    def local_of_utc(self, ts: Any, zone: str) -> Any:
        """Wall-clock time in ``zone`` of a naive UTC timestamp."""
        if zone == "UTC":
            return ts
        exp = _exp()
        return exp.ConvertTimezone(
            source_tz=exp.Literal.string("UTC"), target_tz=exp.Literal.string(zone), timestamp=ts
        )

    # --- calendar parts (of a local timestamp or a date) ------------------------------
    def part(self, unit: str, e: Any) -> Any:
        exp = _exp()
        if unit == "isodow":
            return exp.DayOfWeekIso(this=e)
        return exp.Extract(this=exp.var(unit.upper()), expression=e)

    def days_between(self, as_of: dt.datetime, ts: Any) -> Any:
        """floor((as_of - ts) / 24h) as an integer."""
        exp = _exp()
        as_of_us = int(as_of.timestamp()) * 1_000_000 + as_of.microsecond
        diff = exp.Sub(
            this=exp.Literal.number(as_of_us),
            expression=exp.UnixMicros(this=ts),
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

    def in_list(self, x: Any, items: list[Any]) -> Any:
        """``x IN (items)`` with SQL's null semantics."""
        return _exp().In(this=x, expressions=items)

    # --- lists ------------------------------------------------------------------------
    def to_date(self, local: Any) -> Any:
        """The date of a wall-clock timestamp."""
        return _exp().cast(local, dtype("DATE", self.sqlglot_name), copy=False)

    def first_day(self, period: str, d: Any) -> Any:
        """The first day (a date) of the week (Monday), month or year holding date ``d``."""
        exp = _exp()
        return self.to_date(exp.DateTrunc(unit=exp.var(period.upper()), this=d))

    def binary(self, key: Any, t: Type) -> Any:
        """``key`` (of type ``t``) ordered by its bytes, text by code point, whatever the
        database's collation."""
        return key

    def median(self, x: Any) -> Any:
        """The exact median of the non-null doubles ``x`` (the middle two interpolated)."""
        return _exp().Median(this=x)

    def hex_number(self, digits: Any) -> Any | None:
        """Eight lower-case hex digits as a BIGINT; None: the dialect has no md5."""
        return None

    def list_contains(self, lst: Any, item: Any) -> Any:
        return _exp().ArrayContains(this=lst, expression=item)

    def list_length(self, lst: Any) -> Any:
        return _exp().ArraySize(this=lst)

    def string_length(self, s: Any) -> Any:
        return _exp().Length(this=s)
