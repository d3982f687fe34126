"""One in-process implementation per function and aggregate of the function table
(:mod:`segql.lang.functions`), keyed like the typed tree names them. An implementation
gets the call (node, compiled arguments, schema zone) and returns the closure that
computes the value; ``tests/test_functions.py`` fails when one is missing."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from segql.backends.python.env import Fn, _Env
from segql.backends.python.values import (
    _EXACT,
    _finite,
    _midnight,
    _out_of_range,
    _round,
    _time_input,
)
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc

__all__ = ["AGGREGATES", "FUNCTIONS", "AggCall", "Call"]


@dataclass(frozen=True, slots=True)
class Call:
    """A scalar call being compiled."""

    node: ir.Func
    args: list[Fn]  # the compiled arguments
    tz: dt.tzinfo  # the schema time zone
    as_of_checks: list[Callable[[dt.datetime], object]]  # run once per as_of

    def unary(self, fn: Callable[[Any], Any]) -> Fn:
        """``fn`` of the one argument; null for null; arithmetic overflow is an error."""
        g, node = self.args[0], self.node

        def apply(env: _Env, ev: Any) -> Any:
            v = g(env, ev)
            if v is None:
                return None
            try:
                return fn(v)
            except ArithmeticError:
                raise _out_of_range(node, f"`{node.func.value}`") from None

        return apply

    def local(self, v: Any) -> Any:
        """A UTC time as wall-clock time in the schema zone (dates stay dates)."""
        tz = self.tz
        if isinstance(v, dt.datetime) and tz is not dt.UTC:
            try:
                return v.replace(tzinfo=dt.UTC).astimezone(tz)
            except (OverflowError, ValueError):
                raise _time_input(self.node.args[0], v, tz) from None
        return v


def _floor(v: Any) -> Any:
    if isinstance(v, int | float):
        return math.floor(v)
    return v.to_integral_value(rounding=decimal.ROUND_FLOOR, context=_EXACT)


def _ceil(v: Any) -> Any:
    if isinstance(v, int | float):
        return math.ceil(v)
    return v.to_integral_value(rounding=decimal.ROUND_CEILING, context=_EXACT)


def _round_call(c: Call) -> Fn:
    g, node = c.args[0], c.node
    gd = c.args[1] if len(c.args) > 1 else None

    def rnd(env: _Env, ev: Any) -> Any:
        v = g(env, ev)
        n = gd(env, ev) if gd is not None else 0
        if v is None or n is None:
            return None
        try:
            return _round(v, n)
        except ArithmeticError:
            raise _out_of_range(node, "`round`") from None

    return rnd


def _coalesce(c: Call) -> Fn:
    gs = c.args  # the checker has widened every argument to the result type

    def coalesce(env: _Env, ev: Any) -> Any:
        for g in gs:
            v = g(env, ev)
            if v is not None:
                return v
        return None

    return coalesce


EARTH_KM = 6371.0088  # the mean earth radius (CONTRACT §5.4)
_RAD = math.pi / 180  # math.radians's factor, written the same way in SQL


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The operations in the order the SQL back end writes them, so that every engine's
    IEEE doubles give the same result (up to their sin/cos/asin)."""
    half_dphi = math.sin((lat2 - lat1) * _RAD * 0.5)
    half_dlam = math.sin((lon2 - lon1) * _RAD * 0.5)
    cosines = math.cos(lat1 * _RAD) * math.cos(lat2 * _RAD)
    h = half_dphi * half_dphi + cosines * (half_dlam * half_dlam)
    return 2 * EARTH_KM * math.asin(math.sqrt(1.0 if h > 1 else h))


def _distance(c: Call) -> Fn:
    gs = c.args

    def distance(env: _Env, ev: Any) -> Any:
        vs = [g(env, ev) for g in gs]
        if any(v is None for v in vs):
            return None
        return haversine_km(*(float(v) for v in vs))

    return distance


def bucket_of(salt: str, key: Any) -> int:
    """CONTRACT §5.4: md5 of ``salt:key`` (UTF-8; an integer key in decimal), its first
    8 hex digits as a number, modulo 10000."""
    digest = hashlib.md5(f"{salt}:{key}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % 10_000


def _bucket(c: Call) -> Fn:
    salt = c.node.args[0]
    assert isinstance(salt, ir.Lit) and isinstance(salt.value, str)  # the checker's rule
    text, key = salt.value, c.args[1]

    def bucket(env: _Env, ev: Any) -> Any:
        k = key(env, ev)
        return None if k is None else bucket_of(text, k)

    return bucket


def _local_date(c: Call, v: Any) -> dt.date:
    local = c.local(v)
    return local.date() if isinstance(local, dt.datetime) else local


def _date(c: Call) -> Fn:
    return c.unary(lambda v: _local_date(c, v))


def _start_of(period: str) -> Callable[[Call], Fn]:
    """Midnight, in the schema zone, of the first day of the period holding the argument
    (a naive UTC timestamp, as every time inside the evaluator)."""

    def make(c: Call) -> Fn:
        tz, span = c.tz, c.node.span

        def start(v: Any) -> Any:
            first = timecalc.first_day(period, _local_date(c, v))
            return timecalc.date_to_timestamp(first, tz, span).replace(tzinfo=None)

        return c.unary(start)

    return make


def _days_since(c: Call) -> Fn:
    g, tz, arg = c.args[0], c.tz, c.node.args[0]
    is_date = arg.type is Type.DATE

    def days_since(env: _Env, ev: Any) -> Any:
        v = g(env, ev)
        if v is None:
            return None
        if is_date:
            v = _midnight(arg, v, tz)
        return (env.as_of - v) // dt.timedelta(days=1)

    return days_since


def _anniversary(c: Call) -> Fn:
    g, tz, span, local = c.args[0], c.tz, c.node.span, c.local
    c.as_of_checks.append(lambda a: timecalc.local_date(a, tz, span))

    def anniversary(env: _Env, ev: Any) -> Any:
        v = g(env, ev)
        if v is None:
            return None
        d = local(v).date() if isinstance(v, dt.datetime) else v
        today = timecalc.local_date(env.aware, tz, span)
        return timecalc.days_until_anniversary(d, today)

    return anniversary


F = ir.FuncName
FUNCTIONS: dict[ir.FuncName, Callable[[Call], Fn]] = {
    F.LOWER: lambda c: c.unary(str.lower),
    F.UPPER: lambda c: c.unary(str.upper),
    F.TRIM: lambda c: c.unary(lambda s: s.strip(" ")),
    F.LENGTH: lambda c: c.unary(len),
    F.ABS: lambda c: c.unary(lambda v: v.copy_abs() if isinstance(v, Decimal) else abs(v)),
    F.SIGN: lambda c: c.unary(lambda v: (v > 0) - (v < 0)),
    F.FLOOR: lambda c: c.unary(_floor),
    F.CEIL: lambda c: c.unary(_ceil),
    F.ROUND: _round_call,
    F.COALESCE: _coalesce,
    F.YEAR: lambda c: c.unary(lambda v: c.local(v).year),
    F.MONTH: lambda c: c.unary(lambda v: c.local(v).month),
    F.DAY: lambda c: c.unary(lambda v: c.local(v).day),
    F.WEEKDAY: lambda c: c.unary(lambda v: c.local(v).isoweekday()),
    F.DAYS_SINCE: _days_since,
    F.DAYS_UNTIL_ANNIVERSARY: _anniversary,
    F.BUCKET: _bucket,
    F.DISTANCE_KM: _distance,
    F.DATE: _date,
    F.START_OF_WEEK: _start_of("week"),
    F.START_OF_MONTH: _start_of("month"),
    F.START_OF_YEAR: _start_of("year"),
}


@dataclass(frozen=True, slots=True)
class AggCall:
    """An aggregate being compiled: the events that count, and their non-null values."""

    node: ir.Agg
    select: Callable[[_Env], list[Mapping[str, Any]]]
    values: Callable[[_Env], list[Any]]  # of the aggregated field
    time: str  # the stream's time field
    read: Fn | None = None  # the aggregated value of one event (env, event)


def _sum(c: AggCall) -> Fn:
    values, rtype, node = c.values, c.node.type, c.node

    def total(env: _Env, ev: Any) -> Any:
        vals = values(env)
        try:
            if rtype is Type.DECIMAL:
                out = Decimal(0)
                add = _EXACT.add
                for v in vals:
                    out = add(out, v)
                return out
            if rtype is Type.FLOAT:
                return _finite(math.fsum(vals))
            return sum(vals)
        except ArithmeticError:
            raise _out_of_range(node, "`sum`") from None

    return total


def _avg(c: AggCall) -> Fn:
    values, node = c.values, c.node

    def avg(env: _Env, ev: Any) -> Any:
        vals = values(env)
        if not vals:
            return None
        try:
            if isinstance(vals[0], float):
                return _finite(math.fsum(vals) / len(vals))
            # integers and decimals: the exact sum, rounded once, as the SQL computes it
            total = Decimal(0)
            for v in vals:
                total = _EXACT.add(total, v)
            return _finite(float(total) / len(vals))
        except ArithmeticError:
            raise _out_of_range(node, "`avg`") from None

    return avg


def _median(c: AggCall) -> Fn:
    values, node = c.values, c.node

    def median(env: _Env, ev: Any) -> Any:
        vals = sorted(float(v) for v in values(env))
        if not vals:
            return None
        mid, odd = divmod(len(vals), 2)
        if odd:
            return vals[mid]
        lo, hi = vals[mid - 1], vals[mid]
        try:  # as the engines interpolate: lo + (hi - lo) * 0.5
            return _finite(lo + (hi - lo) * 0.5)
        except ArithmeticError:
            raise _out_of_range(node, "`median`") from None

    return median


def _pick(pick: Callable[[list[Any]], Any]) -> Callable[[AggCall], Fn]:
    def make(c: AggCall) -> Fn:
        values = c.values
        return lambda env, ev: pick(vals) if (vals := values(env)) else None

    return make


def _time_of(pick: Callable[[list[Any]], Any]) -> Callable[[AggCall], Fn]:
    def make(c: AggCall) -> Fn:
        select, time = c.select, c.time

        def first_last(env: _Env, ev: Any) -> Any:
            times = [e[time] for e in select(env)]
            return pick(times) if times else None

        return first_last

    return make


def _value_at(latest: bool) -> Callable[[AggCall], Fn]:
    """first_value / last_value: the field of the earliest (latest) event where it is not
    null; events at the same time are ordered by the value."""

    def make(c: AggCall) -> Fn:
        select, time, read = c.select, c.time, c.read
        assert read is not None

        def pick(env: _Env, ev: Any) -> Any:
            best: tuple[Any, Any] | None = None
            for e in select(env):
                v = read(env, e)
                if v is None:
                    continue
                key = (e[time], v)
                if best is None or (key > best if latest else key < best):
                    best = key
            return None if best is None else best[1]

        return pick

    return make


def _mode(c: AggCall) -> Fn:
    values = c.values

    def mode(env: _Env, ev: Any) -> Any:
        counts: dict[Any, int] = {}
        for v in values(env):
            counts[v] = counts.get(v, 0) + 1
        if not counts:
            return None
        most = max(counts.values())
        return min(v for v, n in counts.items() if n == most)

    return mode


A = ir.AggFunc
AGGREGATES: dict[ir.AggFunc, Callable[[AggCall], Fn]] = {
    A.COUNT: lambda c: lambda env, ev: len(c.select(env)),
    A.COUNT_DISTINCT: lambda c: lambda env, ev: len(set(c.values(env))),
    A.SUM: _sum,
    A.AVG: _avg,
    A.MEDIAN: _median,
    A.MIN: _pick(min),
    A.MAX: _pick(max),
    A.FIRST: _time_of(min),
    A.LAST: _time_of(max),
    A.FIRST_VALUE: _value_at(latest=False),
    A.LAST_VALUE: _value_at(latest=True),
    A.MODE: _mode,
}
