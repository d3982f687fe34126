"""Hypothesis strategies for random well-formed segql syntax trees.

The trees respect what the parser produces: numeric literals are non-negative (negation
is ``Neg``), ``and``/``or`` are flat n-ary nodes, aggregates name a stream or a field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from segql import ast as a
from segql.syntax import KEYWORDS

_NAMES = st.one_of(
    st.sampled_from(["age", "country", "x", "y_1", "_z", "Email", "count", "orders"]),
    st.text(alphabet="abc _`é1", min_size=1, max_size=6).filter(lambda s: s.strip() != ""),
    st.sampled_from(sorted(KEYWORDS)),
)
names = st.builds(
    lambda parts: a.Name(parts=tuple(parts)), st.lists(_NAMES, min_size=1, max_size=2)
)
durations = st.builds(
    lambda n, u: a.DurationLit(amount=n, unit=u),
    st.integers(1, 10_000),
    st.sampled_from(list(a.DurationUnit)),
)
_timestamps = st.datetimes(
    min_value=dt.datetime(1900, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.one_of(
        st.none(),
        st.just(dt.UTC),
        st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m))),
    ),
)
literals = st.one_of(
    st.integers(0, 10**12).map(lambda v: a.IntLit(value=v)),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False).map(
        lambda v: a.DecimalLit(value=Decimal(v))
    ),
    st.text(max_size=8).map(lambda v: a.StringLit(value=v)),
    st.booleans().map(lambda v: a.BoolLit(value=v)),
    st.just(a.NullLit()),
    st.dates(min_value=dt.date(1900, 1, 1)).map(lambda v: a.DateLit(value=v)),
    _timestamps.map(lambda v: a.TimestampLit(value=v.replace(microsecond=v.microsecond))),
    durations,
    st.just(a.Now()),
    st.just(a.Today()),
    durations.map(lambda d: a.Ago(duration=d)),
    st.builds(lambda n: a.InSegment(name=n), _NAMES),
)


def _flat(kind: a.BoolOpKind, ops: list[a.Expr]) -> a.Expr:
    out: list[a.Expr] = []
    for o in ops:
        if isinstance(o, a.BoolOp) and o.op is kind:
            out.extend(o.operands)
        else:
            out.append(o)
    return a.BoolOp(op=kind, operands=tuple(out))


def _negatable(e: a.Expr) -> bool:
    return not isinstance(e, a.DurationLit)  # `-30d` is refused: write `30d ago`


def _extend(children: Any) -> Any:
    agg_target = st.one_of(names.map(lambda n: a.Name(parts=n.parts[:1])), names)
    return st.one_of(
        st.builds(lambda o: a.Neg(operand=o), children.filter(_negatable)),
        st.builds(lambda o: a.Not(operand=o), children),
        st.builds(
            lambda op, x, y: a.Arith(op=op, left=x, right=y),
            st.sampled_from(list(a.ArithOp)),
            children,
            children,
        ),
        st.builds(
            lambda k, ops: _flat(k, ops),
            st.sampled_from(list(a.BoolOpKind)),
            st.lists(children, min_size=2, max_size=4),
        ),
        st.builds(
            lambda op, x, y: a.Compare(op=op, left=x, right=y),
            st.sampled_from(list(a.CmpOp)),
            children,
            children,
        ),
        st.builds(
            lambda o, lo, hi: a.Between(operand=o, low=lo, high=hi), children, children, children
        ),
        st.builds(
            lambda o, items, neg: a.InList(operand=o, items=tuple(items), negated=neg),
            children,
            st.lists(children, max_size=3),
            st.booleans(),
        ),
        st.builds(lambda o, neg: a.IsNull(operand=o, negated=neg), children, st.booleans()),
        st.builds(
            lambda op, x, y: a.Match(op=op, left=x, right=y),
            st.sampled_from(list(a.MatchOp)),
            children,
            children,
        ),
        st.builds(lambda o, d: a.Within(operand=o, duration=d), children, durations),
        st.builds(lambda items: a.ListLit(items=tuple(items)), st.lists(children, max_size=3)),
        st.builds(
            lambda f, args: a.Call(func=f, args=tuple(args)),
            st.sampled_from(["lower", "abs", "coalesce", "days_since", "f_1"]),
            st.lists(children, max_size=3),
        ),
        st.builds(
            lambda f, t, w, d: a.Aggregate(func=f, target=t, where=w, within=d),
            st.sampled_from(sorted(a.AGGREGATE_FUNCS)),
            agg_target,
            st.one_of(st.none(), children),
            st.one_of(st.none(), durations),
        ),
        st.builds(
            lambda s, w, d: a.Has(stream=s, where=w, within=d),
            names.map(lambda n: a.Name(parts=n.parts[:1])),
            st.one_of(st.none(), children),
            st.one_of(st.none(), durations),
        ),
        st.builds(
            lambda p, b: a.Top(percent=p, by=b),
            st.one_of(
                st.integers(0, 100).map(lambda v: a.IntLit(value=v)),
                st.decimals(0, 100, places=2).map(lambda v: a.DecimalLit(value=Decimal(v))),
            ),
            children,
        ),
    )


exprs = st.recursive(st.one_of(literals, names), _extend, max_leaves=12)
