"""SQLite: timestamps as ISO-8601 text, booleans as integers, no lists or zones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from segql.backends.sql.dialects.base import Capabilities, Profile, _exp, dtype
from segql.core.types import Type


class SQLite(Profile):
    """SQLite stores timestamps and dates as ISO-8601 text; segql normalises both sides to
    `YYYY-MM-DD HH:MM:SS.SSS` (UTC, millisecond precision) and compares text."""

    name = "sqlite"
    sqlglot_name = "sqlite"
    title = "SQLite"  # in messages
    # No list type, no zones, integer-only `%`, at most 64 joins, and a parser with a
    # fixed stack of 100 states: about 45 levels of one expression.
    caps = Capabilities(
        lists=False,
        time_zones=False,
        float_modulo=False,
        max_joins=64,
        bitmasks=False,  # no bitwise-or aggregate
        max_depth=16,
        median=False,
    )

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

    def shift_time(self, ts: Any, amount: int, unit: str) -> Any | None:
        # SQLite's '+1 months' does not clamp (Jan 31 + 1 month = Mar 3): refused
        if unit == "MONTH":
            return None
        exp = _exp()
        modifier = exp.Literal.string(f"{amount:+d} {unit.lower()}s")
        return exp.Anonymous(
            this="strftime", expressions=[exp.Literal.string("%Y-%m-%d %H:%M:%f"), ts, modifier]
        )

    def to_date(self, local: Any) -> Any:
        return _exp().Anonymous(this="date", expressions=[local])

    def first_day(self, period: str, d: Any) -> Any:
        exp = _exp()
        if period != "week":
            return exp.Anonymous(
                this="date", expressions=[d, exp.Literal.string(f"start of {period}")]
            )
        # back to Monday: `weekday 1` goes forward to the next Monday (or stays), so go
        # back 6 days first
        return exp.Anonymous(
            this="date",
            expressions=[d, exp.Literal.string("-6 days"), exp.Literal.string("weekday 1")],
        )

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


class SQLiteEngine(SQLite):
    """SQLite as segql's engine runs it: the connection has ``md5`` and ``segql_hex``
    (registered by :class:`segql.engines.sqlite.SQLite`), so `bucket` — and with it
    experiments — gives the same buckets as every other engine. SQL written for a plain
    SQLite (``to_sql``) still refuses `bucket`: it has no md5."""

    def hex_number(self, digits: Any) -> Any:
        return _exp().Anonymous(this="segql_hex", expressions=[digits])
