"""ClickHouse: microsecond epochs by name, SQL's null semantics for `in`, and no lists
(a ClickHouse array cannot be null, so segql's null lists have no home there).

Run with the session settings the engine adapter sets (`join_use_nulls = 1`: a contact
without events joins as NULL, not as zeros; times in UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from segql.backends.sql.dialects.base import Capabilities, HasPlan, Profile, _exp, dtype


class ClickHouse(Profile):
    name = "clickhouse"
    sqlglot_name = "clickhouse"
    title = "ClickHouse"  # in messages
    caps = Capabilities(
        lists=False, materialized_ctes=False, has_plan=HasPlan.IN_SET, filtered_passes=True
    )

    def bit(self, mask: Any, i: int) -> Any:
        # ClickHouse has no `&` operator
        exp = _exp()
        shifted = exp.Anonymous(this="bitShiftRight", expressions=[mask, exp.Literal.number(i)])
        return exp.Anonymous(this="bitAnd", expressions=[shifted, exp.Literal.number(1)])

    # Zone conversions through text: sqlglot's `AT TIME ZONE` for ClickHouse casts to
    # DateTime, whose seconds start in 1970 (a 1969 birthday would wrap).
    def _utc_of_local(self, ts: Any, zone: str) -> Any:
        exp = _exp()
        text = exp.Anonymous(this="toString", expressions=[ts])
        there = exp.Anonymous(
            this="toDateTime64",
            expressions=[text, exp.Literal.number(6), exp.Literal.string(zone)],
        )
        return exp.Anonymous(this="toTimeZone", expressions=[there, exp.Literal.string("UTC")])

    def local_of_utc(self, ts: Any, zone: str) -> Any:
        if zone == "UTC":
            return ts
        exp = _exp()
        there = exp.Anonymous(this="toTimeZone", expressions=[ts, exp.Literal.string(zone)])
        text = exp.Anonymous(this="toString", expressions=[there])
        return exp.Anonymous(
            this="toDateTime64",
            expressions=[text, exp.Literal.number(6), exp.Literal.string("UTC")],
        )

    def date_literal(self, value: dt.date) -> Any:
        # Date32, as dates are everywhere here: a `Date` literal before 1970 wraps around
        exp = _exp()
        return exp.cast(
            exp.Literal.string(value.isoformat()),
            dtype("Nullable(Date32)", "clickhouse"),
            copy=False,
        )

    def to_date(self, local: Any) -> Any:
        # Date32: ClickHouse's Date starts in 1970
        return _exp().cast(local, dtype("Nullable(Date32)", "clickhouse"), copy=False)

    def median(self, x: Any) -> Any:
        # ClickHouse's `median` is an estimate from a sample; this one is exact
        exp = _exp()
        return exp.ParameterizedAgg(
            this="quantileExactInclusive", expressions=[exp.Literal.number(0.5)], params=[x]
        )

    def hex_number(self, digits: Any) -> Any:
        # 4 bytes, big-endian in the hex, read as a little-endian UInt32 once reversed
        exp = _exp()
        raw = exp.Anonymous(this="unhex", expressions=[digits])
        rev = exp.Anonymous(this="reverse", expressions=[raw])
        n = exp.Anonymous(this="reinterpretAsUInt32", expressions=[rev])
        return exp.Anonymous(this="toInt64", expressions=[n])

    def timestamp_type(self) -> Any:
        # DateTime is 32-bit seconds from 1970: a 1969 birthday would wrap around.
        return dtype("Nullable(DateTime64(6))", "clickhouse")

    def days_between(self, as_of: dt.datetime, ts: Any) -> Any:
        exp = _exp()
        as_of_us = int(as_of.timestamp()) * 1_000_000 + as_of.microsecond
        micros = exp.Anonymous(
            this="toUnixTimestamp64Micro",
            expressions=[exp.cast(ts, "Nullable(DateTime64(6, 'UTC'))", dialect="clickhouse")],
        )
        diff = exp.Sub(this=exp.Literal.number(as_of_us), expression=micros)
        return self._floor_div(diff, 86_400_000_000)

    def in_list(self, x: Any, items: list[Any]) -> Any:
        # ClickHouse's IN ignores a NULL in the list (`2 IN (1, NULL)` is false, not
        # unknown); equalities joined by OR keep SQL's three-valued answer.
        exp = _exp()
        eqs = [exp.EQ(this=x.copy(), expression=i) for i in items]
        return exp.Paren(this=exp.or_(*eqs, copy=False))
