"""PostgreSQL: `AT TIME ZONE`, numeric rounding of doubles, `= ANY` for lists."""

from __future__ import annotations

import datetime as dt
from typing import Any

from segql.backends.sql.dialects.base import Capabilities, HasPlan, Profile, _exp, dtype
from segql.core.types import Type


class Postgres(Profile):
    name = "postgres"
    sqlglot_name = "postgres"
    title = "PostgreSQL"  # in messages
    # PostgreSQL runs a correlated NOT EXISTS as an index loop per contact (8x slower than
    # a grouped pass on the engines benchmark): `has` is counted in the stream's pass.
    caps = Capabilities(has_plan=HasPlan.COUNTED)

    def binary(self, key: Any, t: Type) -> Any:
        # the database's collation may order text by language rules; "C" is byte order
        if t is not Type.STRING:
            return key
        exp = _exp()
        return exp.Collate(this=key, expression=exp.to_identifier("C", quoted=True))

    def hex_number(self, digits: Any) -> Any:
        # 'x' || hex as bit(32), whose bigint is unsigned
        exp = _exp()
        bits = exp.DPipe(this=exp.Literal.string("x"), expression=digits, safe=True)
        as_bits = exp.cast(bits, dtype("BIT(32)", "postgres"), copy=False)
        return exp.cast(as_bits, dtype("BIGINT", "postgres"), copy=False)

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
