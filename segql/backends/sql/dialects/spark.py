"""Apache Spark SQL: the base profile's typed nodes, except where sqlglot's spelling is
wrong for Spark."""

from __future__ import annotations

from typing import Any

from segql.backends.sql.dialects.base import Capabilities, Profile, _exp, dtype


class Spark(Profile):
    name = "spark"
    sqlglot_name = "spark"
    title = "Spark"  # in messages
    # Spark plans CTEs itself (no MATERIALIZED); it has lists and zones.
    caps = Capabilities(materialized_ctes=False, deep_correlation=False)

    def hex_number(self, digits: Any) -> Any:
        exp = _exp()
        decimal = exp.Anonymous(
            this="CONV", expressions=[digits, exp.Literal.number(16), exp.Literal.number(10)]
        )
        return exp.cast(decimal, dtype("BIGINT", "spark"), copy=False)

    def part(self, unit: str, e: Any) -> Any:
        if unit != "isodow":
            return super().part(unit, e)
        # DAYOFWEEK is 1 = Sunday .. 7 = Saturday; ISO is 1 = Monday .. 7 = Sunday.
        # (sqlglot 30.30 writes `DAYOFWEEK(x) % 7 + 1`, which makes Sunday 2.)
        exp = _exp()
        dow = exp.Anonymous(this="DAYOFWEEK", expressions=[e])
        shifted = exp.Mod(
            this=exp.Paren(this=exp.Add(this=dow, expression=exp.Literal.number(5))),
            expression=exp.Literal.number(7),
        )
        return exp.Paren(
            this=exp.Add(this=exp.Paren(this=shifted), expression=exp.Literal.number(1))
        )

    def list_contains(self, lst: Any, item: Any) -> Any:
        # ARRAY_CONTAINS is null when the item is missing but the list holds a null;
        # segql ignores null elements, so that null becomes false.
        exp = _exp()
        found = exp.Coalesce(
            this=exp.ArrayContains(this=lst, expression=item), expressions=[exp.false()]
        )
        unknown = exp.or_(
            exp.Is(this=lst.copy(), expression=exp.null()),
            exp.Is(this=item.copy(), expression=exp.null()),
            copy=False,
        )
        return exp.Case(ifs=[exp.If(this=unknown, true=exp.null())], default=found)

    def list_length(self, lst: Any) -> Any:
        # SIZE(NULL) is -1 unless ANSI mode is on (Spark 3 clusters): keep null null.
        exp = _exp()
        return exp.Case(
            ifs=[exp.If(this=exp.Is(this=lst.copy(), expression=exp.null()), true=exp.null())],
            default=exp.ArraySize(this=lst),
        )
