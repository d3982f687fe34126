"""One SQL renderer per function and aggregate of the function table
(:mod:`segql.lang.functions`), keyed like the typed tree names them. Each renderer builds
typed sqlglot nodes (or asks the dialect, for what dialects spell differently), so every
dialect prints its own spelling; ``tests/test_functions.py`` fails when one is missing.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from segql.backends.sql.dialects import dtype
from segql.backends.sql.plan import constant_int, refuse
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc

if TYPE_CHECKING:
    from segql.backends.sql.expressions import ExpressionCompiler

__all__ = ["AGGREGATES", "FUNCTIONS", "count_where"]

Renderer = Callable[["ExpressionCompiler", ir.Func, str | None], Any]
# (the compiler, the aggregated column or None for count, the event condition or None)
AggRenderer = Callable[["ExpressionCompiler", Any, Any], Any]


def _arg(c: ExpressionCompiler, node: ir.Func, stream: str | None, i: int = 0) -> Any:
    return c.expr(node.args[i], stream)


def _length(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    a0 = _arg(c, node, stream)
    return c.p.list_length(a0) if node.args[0].type.is_list else c.p.string_length(a0)


def _round(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    digits = constant_int(node.args[1]) if len(node.args) > 1 else 0
    return c.p.round(_arg(c, node, stream), digits, node.args[0].type)


def _coalesce(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    parts = [c.operand(a, stream) for a in node.args]
    return c.exp.Coalesce(this=parts[0], expressions=parts[1:])


def _part(unit: str) -> Renderer:
    return lambda c, node, stream: c.p.part(unit, c.local(node.args[0], stream))


def _days_since(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    ts = _arg(c, node, stream)
    if node.args[0].type is Type.DATE:
        c.need_zones(node.span)
        ts = c.p.date_to_timestamp(ts, c.zone)
    return c.p.days_between(c.as_of, ts)


def _anniversary(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    """Days from as_of's local date to the next month/day of the argument, computed with
    day-of-year arithmetic on constants known at compile time."""
    exp = c.exp
    local = c.local(node.args[0], stream)
    m = c.p.part("month", local)
    d = c.p.part("day", local.copy())
    today = timecalc.local_date(c.as_of, c.tz, node.span)
    y0 = today.year
    lit = exp.Literal.number

    def ordinal(year: int) -> Any:
        before = [0]
        for month in range(1, 12):
            before.append(before[-1] + calendar.monthrange(year, month)[1])
        month_start = exp.Case(
            this=m.copy(),
            ifs=[exp.If(this=lit(i + 1), true=lit(v)) for i, v in enumerate(before)],
        )
        day = d.copy()
        if not calendar.isleap(year):  # Feb 29 falls on Feb 28 in common years
            feb29 = exp.and_(
                exp.EQ(this=m.copy(), expression=lit(2)),
                exp.EQ(this=d.copy(), expression=lit(29)),
                copy=False,
            )
            day = exp.Case(ifs=[exp.If(this=feb29, true=lit(28))], default=d.copy())
        return exp.Add(this=month_start, expression=day)

    today_ord = today.timetuple().tm_yday
    this_year, next_year = ordinal(y0), ordinal(y0 + 1)
    days_in_y0 = 366 if calendar.isleap(y0) else 365
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.GTE(this=this_year.copy(), expression=lit(today_ord)),
                true=exp.Sub(this=this_year, expression=lit(today_ord)),
            )
        ],
        default=exp.Add(this=next_year, expression=lit(days_in_y0 - today_ord)),
    )


def _sign(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    """SIGN as an integer on every engine (PostgreSQL's sign of a numeric is a numeric)."""
    return c.exp.cast(c.exp.Sign(this=_arg(c, node, stream)), dtype("BIGINT"), copy=False)


def _distance(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    """Haversine in doubles, the in-process evaluator's operations in its order
    (segql.backends.python.functions.haversine_km)."""
    exp = c.exp

    def num(v: float) -> Any:
        return c.p.to_double(exp.Literal.number(repr(v)))

    lat1, lon1, lat2, lon2 = (c.p.to_double(c.operand(a, stream)) for a in node.args)
    rad = math.pi / 180

    def half_sin(x: Any, y: Any) -> Any:
        diff = exp.Paren(this=exp.Sub(this=y, expression=x))
        angle = exp.Mul(this=exp.Mul(this=diff, expression=num(rad)), expression=num(0.5))
        return exp.Sin(this=angle)

    def cos(x: Any) -> Any:
        return exp.Cos(this=exp.Mul(this=x, expression=num(rad)))

    dphi = half_sin(lat1, lat2)
    dlam = half_sin(lon1, lon2)
    cosines = exp.Mul(this=cos(lat1.copy()), expression=cos(lat2.copy()))
    h = exp.Add(
        this=exp.Mul(this=dphi, expression=dphi.copy()),
        expression=exp.Mul(
            this=cosines, expression=exp.Paren(this=exp.Mul(this=dlam, expression=dlam.copy()))
        ),
    )
    # rounding may take h a hair above 1 for antipodes, where asin is undefined
    clamped = exp.Case(
        ifs=[exp.If(this=exp.GT(this=h, expression=num(1.0)), true=num(1.0))],
        default=h.copy(),
    )
    return exp.Mul(this=num(2 * 6371.0088), expression=exp.Asin(this=exp.Sqrt(this=clamped)))


def _local_date(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    """The argument's calendar date in the schema zone."""
    arg = node.args[0]
    local = c.local(arg, stream)
    return local if arg.type is Type.DATE else c.p.to_date(local)


def _start_of(period: str) -> Renderer:
    def render(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
        first = c.p.first_day(period, _local_date(c, node, stream))
        return c.p.date_to_timestamp(first, c.zone)

    return render


def _bucket(c: ExpressionCompiler, node: ir.Func, stream: str | None) -> Any:
    """md5(salt ':' key)'s first 8 hex digits as an integer, mod 10000 (CONTRACT §5.4);
    the dialect turns hex into a number, or has no md5 and refuses."""
    exp = c.exp
    salt, key = node.args
    assert isinstance(salt, ir.Lit) and isinstance(salt.value, str)  # the checker's rule
    value = c.expr(key, None)
    if key.type is not Type.STRING:
        value = exp.cast(value, dtype("TEXT", c.p.sqlglot_name), copy=False)
    text = exp.DPipe(this=exp.Literal.string(f"{salt.value}:"), expression=value, safe=True)
    digits = exp.Substring(
        this=exp.MD5(this=text), start=exp.Literal.number(1), length=exp.Literal.number(8)
    )
    number = c.p.hex_number(digits)
    if number is None:
        raise refuse(
            "unsupported-construct",
            f"{c.p.title} has no md5, which `bucket` needs to give the same buckets everywhere",
            node.span,
            "use duckdb, postgres, spark or clickhouse",
        )
    return exp.Mod(this=exp.Paren(this=number), expression=exp.Literal.number(10_000))


def _unary(node_type: str) -> Renderer:
    return lambda c, node, stream: getattr(c.exp, node_type)(this=_arg(c, node, stream))


F = ir.FuncName
FUNCTIONS: dict[ir.FuncName, Renderer] = {
    F.LOWER: _unary("Lower"),
    F.UPPER: _unary("Upper"),
    F.TRIM: _unary("Trim"),
    F.LENGTH: _length,
    F.ABS: _unary("Abs"),
    F.SIGN: _sign,
    F.BUCKET: _bucket,
    F.DISTANCE_KM: _distance,
    F.DATE: _local_date,
    F.START_OF_WEEK: _start_of("week"),
    F.START_OF_MONTH: _start_of("month"),
    F.START_OF_YEAR: _start_of("year"),
    F.FLOOR: _unary("Floor"),
    F.CEIL: _unary("Ceil"),
    F.ROUND: _round,
    F.COALESCE: _coalesce,
    F.YEAR: _part("year"),
    F.MONTH: _part("month"),
    F.DAY: _part("day"),
    F.WEEKDAY: _part("isodow"),
    F.DAYS_SINCE: _days_since,
    F.DAYS_UNTIL_ANNIVERSARY: _anniversary,
}


def _when(c: ExpressionCompiler, cond: Any, value: Any) -> Any:
    """``value`` for the events that meet ``cond`` (null for the others)."""
    return value if cond is None else c.exp.Case(ifs=[c.exp.If(this=cond, true=value)])


def _count(c: ExpressionCompiler, target: Any, cond: Any) -> Any:
    if cond is None:
        return c.exp.Count(this=c.exp.Star())
    return c.exp.Count(this=_when(c, cond, c.exp.Literal.number(1)))


def _simple(node_type: str, *, double: bool = False) -> AggRenderer:
    def render(c: ExpressionCompiler, target: Any, cond: Any) -> Any:
        value = c.p.to_double(target) if double else target
        return getattr(c.exp, node_type)(this=_when(c, cond, value))

    return render


def _avg(c: ExpressionCompiler, target: Any, cond: Any) -> Any:
    """The exact sum over the count, rounded once to a double: for integers and decimals
    the same on every engine and in-process, whatever order the engine adds in (an
    ``AVG`` of doubles is not: a mean of exactly 80 came out 79.999… in some runs)."""
    value = _when(c, cond, target)
    count = c.exp.Count(this=value.copy())
    return c.exp.Div(
        this=c.p.to_double(c.exp.Sum(this=value)),
        expression=c.p.to_double(c.exp.Nullif(this=count, expression=c.exp.Literal.number(0))),
        typed=True,
    )


def _in_own_query(c: ExpressionCompiler, target: Any, cond: Any) -> Any:
    """first_value, last_value and mode are not columns of a stream's grouped pass: the
    compiler writes a ranked query for each (SqlCompiler._pick)."""
    raise AssertionError("a pick aggregate is computed in its own query")


A = ir.AggFunc
AGGREGATES: dict[ir.AggFunc, AggRenderer] = {
    A.COUNT: _count,
    A.COUNT_DISTINCT: lambda c, t, cond: c.exp.Count(
        this=c.exp.Distinct(expressions=[_when(c, cond, t)])
    ),
    A.SUM: _simple("Sum"),
    A.AVG: _avg,
    A.MEDIAN: lambda c, t, cond: c.p.median(_when(c, cond, c.p.to_double(t))),
    A.MIN: _simple("Min"),
    A.MAX: _simple("Max"),
    A.FIRST: _simple("Min"),  # the earliest event time
    A.LAST: _simple("Max"),  # the latest event time
    A.FIRST_VALUE: _in_own_query,
    A.LAST_VALUE: _in_own_query,
    A.MODE: _in_own_query,
}


def count_where(cond: Any) -> Any:
    """How many rows meet ``cond`` (unknown counts as not): ``SUM(CASE WHEN … 1 ELSE 0)``,
    the same on every dialect (also the engines' counts and overlaps)."""
    from sqlglot import exp

    one, zero = exp.Literal.number(1), exp.Literal.number(0)
    return exp.Sum(this=exp.Case(ifs=[exp.If(this=cond, true=one)], default=zero))
