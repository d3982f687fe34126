"""In-process evaluation of a segment on one contact (CONTRACT §4.3 `matches`).

This is the semantic reference every SQL dialect is tested against. A typed tree is
compiled once into nested closures; evaluating a contact then touches only the fields and
streams the segment uses. Values are SQL's: ``None`` is unknown, and a contact matches
exactly when the whole expression is ``True``.

The typed tree is a DAG (trait and segment bodies are shared): each distinct node is
compiled once, bottom-up without recursion, and a node that occurs more than once is
evaluated once per contact (its value is kept for the call), so the work is linear in the
DAG even where the tree written out is exponentially larger.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from segql.core.diagnostics import (
    CheckError,
    Diagnostic,
    EngineError,
    LimitError,
    SegqlError,
    with_source,
)
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.lang import ast
from segql.lang.ast import COMPARE, ArithOp, BoolOpKind

__all__ = ["Predicate", "compile_predicate", "matches"]

Fn = Callable[["_Env", Any], Any]


@dataclass(slots=True)
class _Env:
    contact: dict[str, Any]
    raw_events: Mapping[str, Sequence[Mapping[str, Any]]]
    as_of: dt.datetime  # naive UTC: every timestamp inside the evaluator is naive UTC
    aware: dt.datetime
    times: dict[Any, Any]
    visible: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    memo: dict[int, Any] = field(default_factory=dict)  # values of shared nodes


class Predicate:
    """A compiled segment: ``pred(contact, events, as_of) -> bool``."""

    def __init__(self, texpr: ir.TExpr, schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> None:
        dag.enforce(texpr, limits, traits=schema.traits_ir)
        for node in ir.walk(texpr):
            if isinstance(node, ir.Percentile | ir.TopPercent):
                what = "`top … by`" if isinstance(node, ir.TopPercent) else "`percentile`"
                raise CheckError(
                    Diagnostic(
                        code="needs-population",
                        message=f"{what} compares a contact with all others, so it cannot be "
                        "evaluated on one contact",
                        span=node.span,
                        hints=("run it on a database: segql.to_sql or segql.engine.Database",),
                    )
                )
        self.schema = schema
        self.tz = schema.tz
        # Keys a contact may have: schema field names and the key under its column name.
        self._contact_keys = frozenset([*schema.entity.fields, schema.entity.key])
        self._fields: dict[str, Type] = {}
        self._stream_fields: dict[str, dict[str, Type]] = {}
        # Times resolved against as_of (`30d ago`, `today`, …): each as_of is checked once,
        # up front, so that one out of range is an error whatever the contact's values,
        # as it is for to_sql.
        self._as_of_checks: list[Callable[[dt.datetime], object]] = []
        self._checked_as_of: dt.datetime | None = None
        with dag.guard("this segment"):
            self._fn = _Compiler(self, texpr).compile(texpr)

    def __call__(
        self,
        contact: Mapping[str, Any],
        events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        as_of: dt.datetime | dt.date | None = None,
    ) -> bool:
        return self.value(contact, events, as_of) is True

    def value(
        self,
        contact: Mapping[str, Any],
        events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        as_of: dt.datetime | dt.date | None = None,
    ) -> Any:
        """The expression's value for one contact (None for null): any typed expression,
        not only a condition — e.g. a trait such as ``total_spent``."""
        aware = timecalc.normalize_as_of(as_of)
        if aware != self._checked_as_of:
            for resolve in self._as_of_checks:
                resolve(aware)
            self._checked_as_of = aware
        self._check_keys(contact, events)
        values = {
            name: _normalize(contact.get(name), t, name, "contact", self.tz)
            for name, t in self._fields.items()
        }
        env = _Env(
            contact=values,
            raw_events=events or {},
            as_of=aware.replace(tzinfo=None),
            aware=aware,
            times={},
        )
        try:
            return self._fn(env, None)
        except RecursionError:
            # Only with limits raised far beyond their defaults.
            raise LimitError(
                Diagnostic(
                    code="limit-exceeded",
                    message="this segment is nested too deeply to evaluate",
                    hints=("lower `max_depth` or `max_expanded_depth` in segql.Limits",),
                )
            ) from None

    def _check_keys(
        self,
        contact: Mapping[str, Any],
        events: Mapping[str, Sequence[Mapping[str, Any]]] | None,
    ) -> None:
        """Refuse a contact key or event stream the schema does not know: a misspelt key
        (``emailConsent``, ``order``) would otherwise read as null / no events."""
        if not isinstance(contact, Mapping):
            raise _input_error(
                f"contact must be a dict keyed by field names, not {type(contact).__name__}"
            )
        if not self._contact_keys.issuperset(contact):
            self._unknown_keys(contact)
        if events is None:
            return
        if not isinstance(events, Mapping):
            raise _input_error(
                f"events must be a dict keyed by stream names, not {type(events).__name__}"
            )
        streams = self.schema.streams
        for name, evs in events.items():
            if name not in streams:
                raise _input_error(
                    f"events has an unknown stream `{_safe(name)}`",
                    *_did_you_mean(str(name), streams),
                    "event streams: " + ", ".join(sorted(streams)),
                    code="unknown-name",
                )
            if not isinstance(evs, Iterable) or isinstance(evs, str | bytes | Mapping):
                raise _input_error(
                    f"events for `{name}` must be a list of dicts, not {type(evs).__name__}"
                )

    def _unknown_keys(self, contact: Mapping[str, Any]) -> None:
        schema = self.schema
        for key in contact:
            if key in self._contact_keys:
                continue
            if key in schema.traits:
                raise _input_error(
                    f"contact key `{key}` is a trait; segql computes it from the events",
                    "pass the events it is computed from instead",
                    code="unknown-name",
                )
            if key in schema.streams:
                raise _input_error(
                    f"contact key `{key}` is an event stream",
                    f"pass its events as `events={{{key!r}: [...]}}`",
                    code="unknown-name",
                )
            raise _input_error(
                f"contact has an unknown key `{_safe(key)}`",
                *_did_you_mean(str(key), self._contact_keys),
                "contacts are keyed by the schema's field names (the key by its column "
                f"`{schema.entity.key}`)",
                code="unknown-name",
            )

    def visible(self, env: _Env, stream: str) -> list[Mapping[str, Any]]:
        """The stream's events with a time at or before as_of that pass its filter, with
        the fields this predicate uses normalised."""
        got = env.visible.get(stream)
        if got is not None:
            return got
        st = self.schema.streams[stream]
        used = self._stream_fields.get(stream, {})
        out: list[Mapping[str, Any]] = []
        filt = self._filters.get(stream)
        time = st.time
        as_of = env.as_of
        tz = self.tz
        fast = _FAST
        checks = [(name, ft, fast.get(ft)) for name, ft in used.items()]
        datetime = dt.datetime
        utc = dt.UTC
        for raw in env.raw_events.get(stream, ()):
            if type(raw) is not dict and not isinstance(raw, Mapping):
                raise _input_error(
                    f"each event of `{stream}` must be a dict, not {type(raw).__name__}"
                )
            t = raw.get(time)
            if type(t) is not datetime or (t.tzinfo is not None and t.tzinfo is not utc):
                t = _normalize(t, Type.TIMESTAMP, time, stream, tz)
            elif t.tzinfo is not None:
                t = t.replace(tzinfo=None)
            if t is None or t > as_of:
                continue
            # Use the caller's dict as is when nothing needs converting (the common case);
            # copy only events with missing keys, aware times or values to convert or refuse.
            ev: Mapping[str, Any] = raw
            same = t is raw.get(time)
            if same:
                for name, _, ok in checks:
                    v = raw.get(name, raw)
                    if v is not None and (type(v) is not ok or not _plain(v)):
                        same = False
                        break
            if not same:
                ev = {time: t}
                for name, ft, _ in checks:
                    v = raw.get(name)
                    ev[name] = None if v is None else _normalize(v, ft, name, stream, tz)
            if filt is not None and filt(env, ev) is not True:
                continue
            out.append(ev)
        env.visible[stream] = out
        return out

    _filters: dict[str, Fn]


def compile_predicate(
    texpr: ir.TExpr, schema: Schema, *, limits: Limits = DEFAULT_LIMITS
) -> Predicate:
    return Predicate(texpr, schema, limits=limits)


_CACHE: OrderedDict[tuple[str, int, Limits], tuple[Schema, Predicate]] = OrderedDict()
_CACHE_SIZE = 256


def matches(
    source: str | ast.Expr | ir.TExpr,
    schema: Schema,
    *,
    contact: Mapping[str, Any],
    events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    as_of: dt.datetime | dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bool:
    """Whether one contact is a member of the segment (CONTRACT §4.3)."""
    if isinstance(source, str):
        key = (source, id(schema), limits)
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is schema:
            _CACHE.move_to_end(key)
            pred = hit[1]
        else:
            from segql.checker.checker import typed

            pred = Predicate(typed(source, schema, limits=limits), schema, limits=limits)
            _CACHE[key] = (schema, pred)
            if len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    elif ir.is_node(source):
        pred = Predicate(cast(ir.TExpr, source), schema, limits=limits)
    else:  # a syntax tree from segql.parse
        from segql.checker.checker import typed

        pred = Predicate(
            typed(cast(ast.Expr, source), schema, limits=limits), schema, limits=limits
        )
    try:
        return pred(contact, events, as_of)
    except SegqlError as e:
        if not isinstance(source, str):
            raise
        raise type(e)(with_source(e.diagnostics, source)) from None


# ---------------------------------------------------------------------------------------
# Input values
# ---------------------------------------------------------------------------------------


def _input_error(message: str, *hints: str, code: str = "bad-input") -> EngineError:
    return EngineError(Diagnostic(code=code, message=message, hints=hints))


def _did_you_mean(name: str, candidates: Iterable[str]) -> tuple[str, ...]:
    hits = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    lower = [c for c in candidates if c.lower() == name.lower()]
    hits = lower[:1] or hits
    return (f"did you mean `{hits[0]}`?",) if hits else ()


def _bad(name: str, where: str, t: Type, value: Any, why: str = "") -> EngineError:
    return _input_error(
        f"{where} value for `{name}` must be {_expect(t)}{why}, not "
        f"{type(value).__name__} {_show(value)}"
    )


def _safe(key: object) -> str:
    """A key for a message: short, with control characters and lone surrogates escaped."""
    text = f"{key!s:.60}"
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _show(value: Any) -> str:
    """A value for a message: short, and printable (no lone surrogates or control
    characters reach a terminal)."""
    text = f"{value!r:.60}"
    return text.encode("ascii", "backslashreplace").decode("ascii") if not text.isascii() else text


def _out_of_time(name: str, where: str, value: Any, tz: dt.tzinfo) -> EngineError:
    return _input_error(
        f"{where} value for `{name}` ({_show(value)}) is outside the times segql handles "
        f"in the schema's time zone ({tz})",
        timecalc.RANGE_TEXT,
    )


_INT64 = 2**63
_DECIMAL_LIMIT = 38  # digits before the point: what DECIMAL(38) holds on every engine


def _expect(t: Type) -> str:
    return {
        Type.STRING: "a str",
        Type.INTEGER: "an int",
        Type.DECIMAL: "a number (int, Decimal or float)",
        Type.FLOAT: "a number (int, float or Decimal)",
        Type.BOOLEAN: "a bool",
        Type.DATE: "a datetime.date",
        Type.TIMESTAMP: "a datetime.datetime (naive means UTC)",
        Type.LIST_STRING: "a list of str",
        Type.LIST_INTEGER: "a list of int",
    }.get(t, str(t))


def _normalize(value: Any, t: Type, name: str, where: str, tz: dt.tzinfo) -> Any:
    """A caller's value as the evaluator's representation of type ``t``; values no engine
    stores exactly (NaN, infinities, integers beyond 64 bits, decimals of 38 digits or
    more before the point, times outside years 1..9999) are refused as ``bad-input``."""
    if value is None:
        return None
    if t is Type.STRING:
        if isinstance(value, str):
            return value
    elif t is Type.INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            if -_INT64 <= value < _INT64:
                return value
            raise _bad(name, where, t, value, " within 64 bits")
    elif t is Type.DECIMAL:
        if isinstance(value, Decimal):
            if value.is_finite() and value.adjusted() < _DECIMAL_LIMIT:
                return value
            raise _bad(name, where, t, value, " (finite, below 10**38)")
        if isinstance(value, int) and not isinstance(value, bool):
            return _normalize(Decimal(value), t, name, where, tz)
        if isinstance(value, float):
            if math.isfinite(value):
                return _normalize(Decimal(repr(value)), t, name, where, tz)
            raise _bad(name, where, t, value, " (finite)")
    elif t is Type.FLOAT:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            try:
                out = float(value)
            except (OverflowError, ValueError):  # a huge int; Decimal('sNaN')
                out = math.inf
            if math.isfinite(out):
                return out
            raise _bad(name, where, t, value, " (finite)")
    elif t is Type.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif t is Type.DATE:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
    elif t is Type.TIMESTAMP:
        try:
            if isinstance(value, dt.datetime):
                return _naive(value)
            if isinstance(value, dt.date):
                return _naive(timecalc.date_to_timestamp(value, tz))
        except (OverflowError, ValueError, CheckError):
            raise _out_of_time(name, where, value, tz) from None
    elif t.is_list and isinstance(value, list | tuple):
        elem = t.element
        return tuple(_normalize(v, elem, name, where, tz) for v in value)
    raise _bad(name, where, t, value)


def _naive(value: dt.datetime) -> dt.datetime:
    """UTC without a zone: the evaluator's one representation of an instant."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _plain(v: Any) -> bool:
    """Whether a value of a fast type is also in range (finite, 64-bit, DECIMAL(38))."""
    tv = type(v)
    if tv is float:
        return bool(v - v == 0.0)  # false for infinities and NaN
    if tv is Decimal:
        return bool(v.is_finite() and v.adjusted() < _DECIMAL_LIMIT)
    if tv is int:
        return bool(-_INT64 <= v < _INT64)
    return True


# Python types that need no conversion, per segql type (fast path for event fields).
_FAST: dict[Type, type] = {
    Type.STRING: str,
    Type.INTEGER: int,
    Type.DECIMAL: Decimal,
    Type.FLOAT: float,
    Type.BOOLEAN: bool,
    Type.DATE: dt.date,
}


# ---------------------------------------------------------------------------------------
# Three-valued helpers
# ---------------------------------------------------------------------------------------


def _and(fns: Sequence[Fn]) -> Fn:
    def f(env: _Env, ev: Any) -> Any:
        unknown = False
        for g in fns:
            v = g(env, ev)
            if v is False:
                return False
            if v is None:
                unknown = True
        return None if unknown else True

    return f


def _or(fns: Sequence[Fn]) -> Fn:
    def f(env: _Env, ev: Any) -> Any:
        unknown = False
        for g in fns:
            v = g(env, ev)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False

    return f


def _not(v: Any) -> Any:
    return None if v is None else not v


_CMP = COMPARE

# Decimal arithmetic is exact, as on DuckDB and PostgreSQL: it runs in this context, never
# the thread's (28 digits, silently rounded). A result needing more than 1,000 digits
# raises (Inexact is trapped) and becomes an `out-of-range` error, never a wrong value.
_EXACT = decimal.Context(
    prec=1000,
    rounding=decimal.ROUND_HALF_UP,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)
# Rounding (`round`) is inexact by design: halves away from zero, like SQL's ROUND.
_ROUNDING = _EXACT.copy()
_ROUNDING.traps[decimal.Inexact] = False


class _OutOfRange(ArithmeticError):
    """A numeric result no engine represents (raised inside closures; the closure of the
    operation turns it into a positioned error)."""


def _num(v: Any, t: Type) -> Any:
    if v is None:
        return None
    if t is Type.FLOAT:
        return float(v)
    if t is Type.DECIMAL:
        return v if isinstance(v, Decimal) else Decimal(v)
    return v


def _finite(x: float) -> float:
    if x - x == 0.0:
        return x
    raise _OutOfRange


def _mod(a: Any, b: Any) -> Any:
    if b == 0:
        return None
    if isinstance(a, float) or isinstance(b, float):
        return _finite(math.fmod(a, b))
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _EXACT.remainder(Decimal(a), Decimal(b))
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _round(v: Any, digits: int) -> Any:
    """``round(v, digits)``, halves away from zero; ``digits`` is in -18..18 (checked)."""
    if isinstance(v, int):
        if digits >= 0:
            return v
        return int(Decimal(v).quantize(Decimal(1).scaleb(-digits), context=_ROUNDING))
    d = v if isinstance(v, Decimal) else Decimal(repr(v))
    out = d.quantize(Decimal(1).scaleb(-digits), context=_ROUNDING)
    return _finite(float(out)) if isinstance(v, float) else out


def _out_of_range(node: ir.TExpr, what: str) -> EngineError:
    return EngineError(
        Diagnostic(
            code="out-of-range",
            message=f"the result of {what} is out of range",
            span=node.span,
            hints=(
                "numbers stay within 64-bit integers, finite floats and 1,000-digit "
                "decimals; DuckDB and PostgreSQL stop with an overflow error too",
            ),
        )
    )


def _describe(node: ir.TExpr) -> str:
    """How a message names the value of ``node`` (a field, an aggregate, or a value)."""
    match node:
        case ir.Field(name=name):
            return f"contact value for `{name}`"
        case ir.EventField(stream=stream, name=name):
            return f"`{stream}` value for `{name}`"
        case ir.Agg(func=func, stream=stream):
            return f"`{func.value}({stream}…)`"
        case _:
            return "value"


def _time_input(node: ir.TExpr, value: Any, tz: dt.tzinfo) -> EngineError:
    return EngineError(
        Diagnostic(
            code="bad-input",
            message=f"{_describe(node)} ({_show(value)}) is outside the times segql handles "
            f"in the schema's time zone ({tz})",
            span=node.span,
            hints=(timecalc.RANGE_TEXT,),
        )
    )


def _midnight(node: ir.TExpr, d: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """Midnight of the date value of ``node`` in ``tz``, as naive UTC."""
    try:
        return _naive(timecalc.date_to_timestamp(d, tz))
    except CheckError:
        raise _time_input(node, d, tz) from None


# ---------------------------------------------------------------------------------------
# The compiler
# ---------------------------------------------------------------------------------------


_PLAIN = (ir.Lit, ir.Field, ir.EventField, ir.Now, ir.Today, ir.Ago)  # cheaper than a memo


class _Compiler:
    def __init__(self, pred: Predicate, root: ir.TExpr) -> None:
        self.p = pred
        self.schema = pred.schema
        self.tz = pred.tz
        pred._filters = {}
        self.fns: dict[int, Fn] = {}
        self.alive: list[ir.TExpr] = []  # nodes whose ids are keys of ``fns``
        self.memo = _shared_values(root)

    def _use_stream(self, stream: str) -> None:
        self.p._stream_fields.setdefault(stream, {})
        if stream not in self.p._filters:
            filt = self.schema.filters_ir.get(stream)
            if filt is not None:
                self.p._filters[stream] = _sentinel  # guard against recursion
                self.p._filters[stream] = self.compile(filt)
            else:
                self.p._filters.pop(stream, None)

    def _time(self, key: Any, make: Callable[[dt.datetime], Any]) -> Fn:
        def f(env: _Env, ev: Any) -> Any:
            try:
                return env.times[key]
            except KeyError:
                v = env.times[key] = _naive(make(env.aware))
                return v

        return f

    def _ago(self, d: ir.Duration) -> Fn:
        tz = self.tz

        def resolve(a: dt.datetime) -> dt.datetime:
            return timecalc.ago(a, d.amount, d.unit, tz, d.span)

        self.p._as_of_checks.append(resolve)
        return self._time(f"ago {d}", resolve)

    def compile(self, node: ir.TExpr) -> Fn:
        """The closure of ``node``: each distinct node is compiled once, children first
        (so this never recurses along the tree), and a shared node's value is kept per
        contact."""
        got = self.fns.get(id(node))
        if got is not None:
            return got
        for n in dag.post_order(node, seen=set(self.fns)):
            fn = self._compile(n)
            if id(n) in self.memo:
                fn = _memoized(fn, id(n))
            self.fns[id(n)] = fn
            self.alive.append(n)
        return self.fns[id(node)]

    def _compile(self, node: ir.TExpr) -> Fn:
        tz = self.tz
        match node:
            case ir.Lit(value=v):
                if isinstance(v, dt.datetime):
                    v = _naive(v)
                return lambda env, ev: v
            case ir.Field(name=name, type=t):
                self.p._fields[name] = t
                return lambda env, ev: env.contact[name]
            case ir.EventField(stream=s, name=name, type=t):
                st = self.schema.streams[s]
                if name != st.time:
                    self.p._stream_fields.setdefault(s, {})[name] = t
                return lambda env, ev: ev[name]
            case ir.Now():
                return lambda env, ev: env.as_of
            case ir.Today():
                span = node.span

                def start_of_day(a: dt.datetime) -> dt.datetime:
                    return timecalc.today(a, tz, span)

                self.p._as_of_checks.append(start_of_day)
                return self._time("today", start_of_day)
            case ir.Ago(duration=d):
                return self._ago(d)
            case ir.DateToTimestamp(operand=o):
                g = self.compile(o)

                def widen(env: _Env, ev: Any) -> Any:
                    v = g(env, ev)
                    return None if v is None else _midnight(o, v, tz)

                return widen
            case ir.Neg(operand=o):
                g = self.compile(o)
                if node.type is Type.DECIMAL:
                    # `-d` would round to the thread's 28 digits; copy_negate is exact.
                    return lambda env, ev: None if (v := g(env, ev)) is None else v.copy_negate()
                return lambda env, ev: None if (v := g(env, ev)) is None else -v
            case ir.Arith():
                return self._arith(node)
            case ir.Not(operand=o):
                g = self.compile(o)
                return lambda env, ev: _not(g(env, ev))
            case ir.BoolOp(op=op, operands=ops):
                fns = [self.compile(o) for o in ops]
                return _and(fns) if op is BoolOpKind.AND else _or(fns)
            case ir.Compare(op=op, left=x, right=y):
                gx, gy, cmp = self.compile(x), self.compile(y), _CMP[op]
                if isinstance(y, ir.Lit) and y.value is not None:
                    const = _naive(y.value) if isinstance(y.value, dt.datetime) else y.value
                    if isinstance(x, ir.EventField):
                        name = x.name
                        return lambda env, ev: None if (a := ev[name]) is None else cmp(a, const)
                    return lambda env, ev: None if (a := gx(env, ev)) is None else cmp(a, const)

                def compare(env: _Env, ev: Any) -> Any:
                    a = gx(env, ev)
                    if a is None:
                        return None
                    b = gy(env, ev)
                    return None if b is None else cmp(a, b)

                return compare
            case ir.Between(operand=o, low=lo, high=hi):
                go, gl, gh = self.compile(o), self.compile(lo), self.compile(hi)

                def between(env: _Env, ev: Any) -> Any:
                    v, low, high = go(env, ev), gl(env, ev), gh(env, ev)
                    first = None if v is None or low is None else low <= v
                    second = None if v is None or high is None else v <= high
                    if first is False or second is False:
                        return False
                    return None if first is None or second is None else True

                return between
            case ir.InList(operand=o, items=items, negated=neg):
                if not items:
                    return lambda env, ev: neg
                go = self.compile(o)
                gis = [self.compile(i) for i in items]

                def in_list(env: _Env, ev: Any) -> Any:
                    v = go(env, ev)
                    if v is None:
                        return None
                    unknown = False
                    for gi in gis:
                        w = gi(env, ev)
                        if w is None:
                            unknown = True
                        elif w == v:
                            return not neg
                    return None if unknown else neg

                return in_list
            case ir.IsNull(operand=o, negated=neg):
                g = self.compile(o)
                return lambda env, ev: (g(env, ev) is None) != neg
            case ir.StrMatch(op=op, left=x, right=y):
                gx, gy = self.compile(x), self.compile(y)
                test: Callable[[str, str], bool] = {
                    ir.StrMatchOp.CONTAINS: lambda a, b: b in a,
                    ir.StrMatchOp.STARTS_WITH: str.startswith,
                    ir.StrMatchOp.ENDS_WITH: str.endswith,
                }[op]

                def match(env: _Env, ev: Any) -> Any:
                    a, b = gx(env, ev), gy(env, ev)
                    return None if a is None or b is None else test(a, b)

                return match
            case ir.ListContains(list=lst, item=item):
                gl, gi = self.compile(lst), self.compile(item)

                def contains(env: _Env, ev: Any) -> Any:
                    xs, v = gl(env, ev), gi(env, ev)
                    if xs is None or v is None:
                        return None
                    return any(x == v for x in xs if x is not None)

                return contains
            case ir.Within(operand=o, duration=d):
                g = self.compile(o)
                since = self._ago(d)

                def within(env: _Env, ev: Any) -> Any:
                    v = g(env, ev)
                    return None if v is None else since(env, ev) <= v <= env.as_of

                return within
            case ir.Func():
                return self._func(node)
            case ir.Agg():
                return self._agg(node)
            case ir.Exists(stream=s, where=w, within=d):
                select = self._select(s, w, d)

                def exists(env: _Env, ev: Any) -> Any:
                    return bool(select(env))

                return exists
            case ir.IsTrue(operand=o):
                g = self.compile(o)
                return lambda env, ev: g(env, ev) is True
            case ir.Percentile() | ir.TopPercent():  # pragma: no cover - refused earlier
                raise AssertionError("needs the population")
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover

    def _arith(self, node: ir.Arith) -> Fn:
        """Integers are exact (Python ints), decimals exact in :data:`_EXACT`, floats
        IEEE doubles; a result no engine represents (a non-finite float, a decimal of
        over 1,000 digits) is an ``out-of-range`` error at the operator."""
        gx, gy = self.compile(node.left), self.compile(node.right)
        t = node.type
        op = node.op
        what = f"`{op.value}`"
        if op is ArithOp.DIV:

            def div(env: _Env, ev: Any) -> Any:
                a, b = gx(env, ev), gy(env, ev)
                if a is None or b is None or b == 0:
                    return None
                try:
                    return _finite(float(a) / float(b))
                except ArithmeticError:
                    raise _out_of_range(node, what) from None

            return div
        binop: Callable[[Any, Any], Any]
        if t is Type.DECIMAL:
            binop = {
                ArithOp.ADD: _EXACT.add,
                ArithOp.SUB: _EXACT.subtract,
                ArithOp.MUL: _EXACT.multiply,
                ArithOp.MOD: _mod,
            }[op]
        elif t is Type.FLOAT:
            binop = {
                ArithOp.ADD: lambda a, b: _finite(a + b),
                ArithOp.SUB: lambda a, b: _finite(a - b),
                ArithOp.MUL: lambda a, b: _finite(a * b),
                ArithOp.MOD: _mod,
            }[op]
        else:
            binop = {
                ArithOp.ADD: lambda a, b: a + b,
                ArithOp.SUB: lambda a, b: a - b,
                ArithOp.MUL: lambda a, b: a * b,
                ArithOp.MOD: _mod,
            }[op]

        def arith(env: _Env, ev: Any) -> Any:
            a, b = gx(env, ev), gy(env, ev)
            if a is None or b is None:
                return None
            try:
                return binop(_num(a, t), _num(b, t))
            except ArithmeticError:
                raise _out_of_range(node, what) from None

        return arith

    def _func(self, node: ir.Func) -> Fn:
        F = ir.FuncName
        gs = [self.compile(a) for a in node.args]
        tz = self.tz
        arg_type = node.args[0].type if node.args else Type.NULL

        def unary(fn: Callable[[Any], Any]) -> Fn:
            g = gs[0]

            def apply(env: _Env, ev: Any) -> Any:
                v = g(env, ev)
                if v is None:
                    return None
                try:
                    return fn(v)
                except ArithmeticError:
                    raise _out_of_range(node, f"`{node.func.value}`") from None

            return apply

        utc = tz is dt.UTC
        arg = node.args[0] if node.args else node

        def local(v: Any) -> Any:
            if isinstance(v, dt.datetime) and not utc:
                try:
                    return v.replace(tzinfo=dt.UTC).astimezone(tz)
                except (OverflowError, ValueError):
                    raise _time_input(arg, v, tz) from None
            return v

        match node.func:
            case F.LOWER:
                return unary(str.lower)
            case F.UPPER:
                return unary(str.upper)
            case F.TRIM:
                return unary(lambda s: s.strip(" "))
            case F.LENGTH:
                return unary(len)
            case F.ABS:
                return unary(lambda v: v.copy_abs() if isinstance(v, Decimal) else abs(v))
            case F.FLOOR:
                return unary(
                    lambda v: (
                        math.floor(v)
                        if isinstance(v, int | float)
                        else v.to_integral_value(rounding=decimal.ROUND_FLOOR, context=_EXACT)
                    )
                )
            case F.CEIL:
                return unary(
                    lambda v: (
                        math.ceil(v)
                        if isinstance(v, int | float)
                        else v.to_integral_value(rounding=decimal.ROUND_CEILING, context=_EXACT)
                    )
                )
            case F.ROUND:
                g = gs[0]
                gd = gs[1] if len(gs) > 1 else None

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
            case F.COALESCE:
                widen = [
                    (g, a.type is Type.DATE and node.type is Type.TIMESTAMP)
                    for g, a in zip(gs, node.args, strict=True)
                ]

                def coalesce(env: _Env, ev: Any) -> Any:
                    for (g, to_ts), a in zip(widen, node.args, strict=True):
                        v = g(env, ev)
                        if v is not None:
                            return _midnight(a, v, tz) if to_ts else v
                    return None

                return coalesce
            case F.YEAR:
                return unary(lambda v: local(v).year)
            case F.MONTH:
                return unary(lambda v: local(v).month)
            case F.DAY:
                return unary(lambda v: local(v).day)
            case F.WEEKDAY:
                return unary(lambda v: local(v).isoweekday())
            case F.DAYS_SINCE:
                g = gs[0]
                is_date = arg_type is Type.DATE

                def days_since(env: _Env, ev: Any) -> Any:
                    v = g(env, ev)
                    if v is None:
                        return None
                    if is_date:
                        v = _midnight(arg, v, tz)
                    return (env.as_of - v) // dt.timedelta(days=1)

                return days_since
            case F.DAYS_UNTIL_ANNIVERSARY:
                g = gs[0]
                span = node.span
                self.p._as_of_checks.append(lambda a: timecalc.local_date(a, tz, span))

                def anniversary(env: _Env, ev: Any) -> Any:
                    v = g(env, ev)
                    if v is None:
                        return None
                    d = local(v).date() if isinstance(v, dt.datetime) else v
                    today = timecalc.local_date(env.aware, tz, span)
                    return timecalc.days_until_anniversary(d, today)

                return anniversary
        raise AssertionError(node.func)  # pragma: no cover

    def _select(
        self, stream: str, where: ir.TExpr | None, within: ir.Duration | None
    ) -> Callable[[_Env], list[Mapping[str, Any]]]:
        """The visible events of ``stream`` that count for an aggregate."""
        self._use_stream(stream)
        time = self.schema.streams[stream].time
        cond = self.compile(where) if where is not None else None
        since = self._ago(within) if within is not None else None
        visible = self.p.visible

        def select(env: _Env) -> list[Mapping[str, Any]]:
            evs = visible(env, stream)
            if since is not None:
                lo = since(env, None)
                evs = [e for e in evs if e[time] >= lo]
            if cond is not None:
                evs = [e for e in evs if cond(env, e) is True]
            return evs

        return select

    def _agg(self, node: ir.Agg) -> Fn:
        s = node.stream
        select = self._select(s, node.where, node.within)
        st = self.schema.streams[s]
        func = node.func
        fname: str | None = None
        if node.column is not None and func not in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
            fname = next((n for n, fd in st.fields.items() if fd.column == node.column), st.time)
            if fname != st.time:
                self.p._stream_fields.setdefault(s, {})[fname] = st.fields[fname].type
        time = st.time
        rtype = node.type

        def values(env: _Env) -> list[Any]:
            assert fname is not None
            return [v for e in select(env) if (v := e[fname]) is not None]

        if func is ir.AggFunc.COUNT:
            return lambda env, ev: len(select(env))
        if func is ir.AggFunc.COUNT_DISTINCT:
            return lambda env, ev: len(set(values(env)))
        if func is ir.AggFunc.SUM:

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
        if func is ir.AggFunc.AVG:

            def avg(env: _Env, ev: Any) -> Any:
                vals = values(env)
                if not vals:
                    return None
                try:
                    return _finite(math.fsum(float(v) for v in vals) / len(vals))
                except ArithmeticError:
                    raise _out_of_range(node, "`avg`") from None

            return avg
        if func in (ir.AggFunc.MIN, ir.AggFunc.MAX):
            pick = min if func is ir.AggFunc.MIN else max
            return lambda env, ev: pick(vals) if (vals := values(env)) else None
        pick_t = min if func is ir.AggFunc.FIRST else max

        def first_last(env: _Env, ev: Any) -> Any:
            times = [e[time] for e in select(env)]
            return pick_t(times) if times else None

        return first_last


def _sentinel(env: _Env, ev: Any) -> Any:  # pragma: no cover - only during compilation
    return True


def _shared_values(root: ir.TExpr) -> set[int]:
    """Ids of the nodes whose value to keep per contact: those that occur more than once
    in the tree written out, are worth more than a lookup, and do not depend on the event
    being looked at (their value is the same for the whole contact)."""
    order = dag.post_order(root)
    occ = dag.occurrences(order)
    per_event: set[int] = set()
    out: set[int] = set()
    for n in order:
        if isinstance(n, ir.EventField) or (
            not isinstance(n, ir.Agg | ir.Exists)
            and any(id(c) in per_event for c in ir.children(n))
        ):
            per_event.add(id(n))
        elif occ.get(id(n), 0) > 1 and not isinstance(n, _PLAIN):
            out.add(id(n))
    return out


_UNSET = object()


def _memoized(fn: Fn, key: int) -> Fn:
    def memo(env: _Env, ev: Any) -> Any:
        got = env.memo.get(key, _UNSET)
        if got is _UNSET:
            got = env.memo[key] = fn(env, ev)
        return got

    return memo
