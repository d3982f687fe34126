"""Compiling a typed tree into nested closures, each distinct node once (bottom-up, no
recursion), keeping the value of a node that occurs more than once per contact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from segql.backends.python.env import Fn, _Env, _naive
from segql.backends.python.functions import AGGREGATES, FUNCTIONS, AggCall, Call
from segql.backends.python.values import (
    _CMP,
    _EXACT,
    _and,
    _finite,
    _midnight,
    _mod,
    _not,
    _num,
    _or,
    _out_of_range,
)
from segql.core.diagnostics import CheckError
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang.ast import ArithOp, BoolOpKind


class Owner(Protocol):
    """The predicate being compiled: what the compiler reads from it and records on it
    (the fields and streams the segment uses, checks to run per as_of)."""

    schema: Schema
    tz: dt.tzinfo
    _fields: dict[str, Type]
    _stream_fields: dict[str, dict[str, Type]]
    _as_of_checks: list[Callable[[dt.datetime], object]]
    _filters: dict[str, Fn]

    def visible(self, env: _Env, stream: str) -> list[Mapping[str, Any]]: ...


_PLAIN = (
    ir.Lit,
    ir.Field,
    ir.EventField,
    ir.PriorField,
    ir.Now,
    ir.Today,
    ir.Ago,
)  # cheaper than a memo


class _Compiler:
    def __init__(self, pred: Owner, root: ir.TExpr) -> None:
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
            filt = definitions(self.schema).filters.get(stream)
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
            # an aggregate inside an event condition is the contact's: computed once
            if id(n) in self.memo or isinstance(n, ir.Agg | ir.Exists | ir.Sequence):
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
            case ir.PriorField(stream=s, name=name, type=t):
                st = self.schema.streams[s]
                if name != st.time:
                    self.p._stream_fields.setdefault(s, {})[name] = t

                def prior(env: _Env, ev: Any) -> Any:
                    assert env.prior is not None
                    return env.prior[name]

                return prior
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
            case ir.Shift(operand=o, duration=d, back=back):
                g = self.compile(o)
                amount = -d.amount if back else d.amount
                unit, span = d.unit, node.span

                def moved(env: _Env, ev: Any) -> Any:
                    v = g(env, ev)
                    if v is None:
                        return None
                    at = timecalc.shift(v.replace(tzinfo=dt.UTC), amount, unit, tz, span)
                    return at.replace(tzinfo=None)

                return moved
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
            case ir.Sequence():
                return self._sequence(node)
            case ir.Classify(conditions=conds, names=names, otherwise=other):
                tests = list(zip([self.compile(c) for c in conds], names, strict=True))

                def classify(env: _Env, ev: Any) -> Any:
                    for test, name in tests:
                        if test(env, ev) is True:
                            return name
                    return other

                return classify
            case ir.IsTrue(operand=o):
                g = self.compile(o)
                return lambda env, ev: g(env, ev) is True
            case ir.AtTime(operand=o, as_of=at, since=since):
                return self._at_time(self.compile(o), at, since, id(node))
            case ir.Percentile() | ir.TopPercent():  # pragma: no cover - refused earlier
                raise AssertionError("needs the population")
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover

    def _at_time(self, g: Fn, at: dt.datetime, since: dt.datetime | None, key: int) -> Fn:
        """The value at another instant: evaluated over the same contact and events as
        of ``at`` (seeing only events after ``since``), once per contact."""
        naive = at.astimezone(dt.UTC).replace(tzinfo=None)
        after = None if since is None else since.astimezone(dt.UTC).replace(tzinfo=None)

        def at_time(env: _Env, ev: Any) -> Any:
            if key in env.memo:
                return env.memo[key]
            sub = _Env(
                contact=env.contact,
                raw_events=env.raw_events,
                as_of=naive,
                aware=at,
                times={},
                since=after,
            )
            env.memo[key] = got = g(sub, None)
            return got

        return at_time

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
        args = [self.compile(a) for a in node.args]
        return FUNCTIONS[node.func](Call(node, args, self.tz, self.p._as_of_checks))

    def _agg(self, node: ir.Agg) -> Fn:
        s = node.stream
        select = self._select(s, node.where, node.within)
        st = self.schema.streams[s]
        fname: str | None = None
        if node.column is not None and node.func not in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
            fname = next((n for n, fd in st.fields.items() if fd.column == node.column), st.time)
            if fname != st.time:
                self.p._stream_fields.setdefault(s, {})[fname] = st.fields[fname].type

        read: Fn
        if node.operand is not None:  # a calendar function of the field
            read = self.compile(node.operand)
        else:
            name = fname

            def read(env: _Env, e: Any) -> Any:
                assert name is not None
                return e[name]

        def values(env: _Env) -> list[Any]:
            return [v for e in select(env) if (v := read(env, e)) is not None]

        return AGGREGATES[node.func](AggCall(node, select, values, st.time, read))

    def _sequence(self, node: ir.Sequence) -> Fn:
        """Some a of A with (negated: without) a b of B: a.time < b.time <= as_of and,
        with ``then_within``, b.time <= a.time + D2 (CONTRACT §5.3)."""
        first = self._select(node.stream, node.where, node.within)
        later = self._select(node.then, None, None)
        cond = self.compile(node.then_where) if node.then_where is not None else None
        ta, tb = self.schema.streams[node.stream].time, self.schema.streams[node.then].time
        d, tz, negated = node.then_within, self.tz, node.negated

        def until(at: dt.datetime, as_of: dt.datetime) -> dt.datetime:
            if d is None:
                return as_of
            try:
                end = timecalc.shift(at.replace(tzinfo=dt.UTC), d.amount, d.unit, tz, d.span)
            except (CheckError, OverflowError):  # beyond year 9999: after any as_of
                return as_of
            return min(as_of, end.replace(tzinfo=None))

        def sequence(env: _Env, ev: Any) -> Any:
            bs = later(env)
            saved = env.prior
            try:
                for a in first(env):
                    at = a[ta]
                    hi = until(at, env.as_of)
                    env.prior = a
                    found = any(
                        at < b[tb] <= hi and (cond is None or cond(env, b) is True) for b in bs
                    )
                    if found != negated:
                        return True
                return False
            finally:
                env.prior = saved

        return sequence

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
        if isinstance(n, ir.EventField | ir.PriorField) or (
            not isinstance(n, ir.Agg | ir.Exists | ir.Sequence)
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
