"""Reusable Hypothesis strategies for segql syntax trees and source text.

The trees respect every invariant of what :func:`segql.parse` produces, so that
``parse(format(e)) == e`` must hold for each of them:

* numeric literals are non-negative (``-3`` is ``Neg(IntLit(3))``) and finite;
* a duration is never negated (``-30d`` is refused: write ``30d ago``);
* ``BoolOp`` has at least two operands and no operand that is a ``BoolOp`` of the same kind;
* a name part is any non-empty text without a line break or a lone surrogate (the
  formatter quotes it in backticks when needed: keywords, spaces, ``é``, backticks...);
* a ``Call`` has a lower-case function name that is neither a keyword nor an aggregate;
  an ``Aggregate`` has a function from ``lang.functions.AGGREGATES`` and a ``Name`` target;
* strings hold any text but lone surrogates (quotes, backslashes, control characters...);
* timestamps are naive, UTC, or at a whole-minute offset below 24 hours;
* ``Top.percent`` is a non-negative ``IntLit`` or ``DecimalLit``.

Use ``exprs()`` for trees, ``token_soup()`` for plausible-but-mostly-wrong source text.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from segql.lang import ast as a
from segql.lang.builder import CALENDAR
from segql.lang.functions import AGGREGATES
from segql.lang.tokens import KEYWORDS

__all__ = [
    "SOUP_TOKENS",
    "aggregates",
    "bool_ops",
    "calls",
    "durations",
    "exprs",
    "func_names",
    "idents",
    "leaves",
    "names",
    "strings",
    "timestamps",
    "token_soup",
]

# --- names -----------------------------------------------------------------------------

_PLAIN = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
_KEYWORD_SPELLINGS = st.sampled_from(sorted(KEYWORDS)).flatmap(
    lambda k: st.sampled_from([k, k.upper(), k.capitalize()])
)
_ODD = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n"),
    min_size=1,
    max_size=6,
)
idents = st.one_of(
    _PLAIN,
    _KEYWORD_SPELLINGS,  # `and`, `Where`: need backticks
    st.sampled_from(["first name", "a`b", "``", "é", "2nd", "x-y", " ", "#", "'q'"]),
    _ODD,
)
"""One name part, as the parser returns it (backticks already removed)."""

names = st.lists(idents, min_size=1, max_size=3).map(lambda p: a.Name(parts=tuple(p)))

func_names = _PLAIN.map(str.lower).filter(lambda f: f not in KEYWORDS and f not in AGGREGATES)

# --- literals --------------------------------------------------------------------------

strings = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),
    max_size=12,
) | st.sampled_from(["", "'", '"', "\\", "it's", 'say "hi"', "\\n", "\n\t\r\0", "%_", "''"])
"""String literal values: any text but lone surrogates, with the awkward cases boosted."""

durations = st.builds(
    a.DurationLit,
    amount=st.integers(1, 10**6) | st.integers(1, 10**20),
    unit=st.sampled_from(list(a.DurationUnit)),
)

_OFFSETS = st.one_of(
    st.none(),
    st.just(dt.UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
        lambda m: dt.timezone(dt.timedelta(minutes=m)) if m else dt.UTC
    ),
)
timestamps = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=_OFFSETS
)

_decimals = st.decimals(min_value=0, max_value=10**12, allow_nan=False, allow_infinity=False)

leaves = st.one_of(
    st.integers(0, 10**6).map(lambda v: a.IntLit(value=v)),
    st.integers(0, 10**40).map(lambda v: a.IntLit(value=v)),
    _decimals.map(lambda v: a.DecimalLit(value=abs(v))),  # abs: no `-0`
    strings.map(lambda v: a.StringLit(value=v)),
    st.booleans().map(lambda v: a.BoolLit(value=v)),
    st.just(a.NullLit()),
    st.dates(min_value=dt.date(1, 1, 1)).map(lambda v: a.DateLit(value=v)),
    timestamps.map(lambda v: a.TimestampLit(value=v)),
    durations,
    st.just(a.Now()),
    st.just(a.Today()),
    durations.map(lambda d: a.Ago(duration=d)),
    idents.map(lambda n: a.InSegment(name=n)),
    names,
)
"""Every node without sub-expressions (``Ago`` counts: its duration is not an Expr slot)."""

# --- compound nodes --------------------------------------------------------------------


QUANTIFIED = frozenset({a.MatchOp.CONTAINS_ANY, a.MatchOp.CONTAINS_ALL})  # right: a list


def _flatten(kind: a.BoolOpKind, operands: list[a.Expr]) -> a.BoolOp:
    flat: list[a.Expr] = []
    for o in operands:
        if isinstance(o, a.BoolOp) and o.op is kind:
            flat.extend(o.operands)
        else:
            flat.append(o)
    return a.BoolOp(op=kind, operands=tuple(flat))


def bool_ops(children: st.SearchStrategy[a.Expr]) -> st.SearchStrategy[a.Expr]:
    return st.builds(
        _flatten, st.sampled_from(list(a.BoolOpKind)), st.lists(children, min_size=2, max_size=4)
    )


def calls(children: st.SearchStrategy[a.Expr]) -> st.SearchStrategy[a.Expr]:
    return st.builds(
        lambda f, args: a.Call(func=f, args=tuple(args)),
        func_names,
        st.lists(children, max_size=3),
    )


def aggregates(children: st.SearchStrategy[a.Expr]) -> st.SearchStrategy[a.Expr]:
    plain = st.builds(
        a.Aggregate,
        func=st.sampled_from(sorted(AGGREGATES)),
        target=names,
        where=st.none() | children,
        within=st.none() | durations,
    )
    # a calendar function around the field: only aggregates that take a field
    calendar = st.builds(
        a.Aggregate,
        func=st.sampled_from(sorted(AGGREGATES - {"count", "first", "last"})),
        target=names,
        where=st.none() | children,
        within=st.none() | durations,
        calendar=st.sampled_from(sorted(CALENDAR)),
    )
    return plain | calendar


def _extend(children: st.SearchStrategy[a.Expr]) -> st.SearchStrategy[a.Expr]:
    negatable = children.filter(lambda e: not isinstance(e, a.DurationLit))
    return st.one_of(
        st.builds(a.Neg, operand=negatable),
        st.builds(a.Not, operand=children),
        st.builds(a.Arith, op=st.sampled_from(list(a.ArithOp)), left=children, right=children),
        bool_ops(children),
        st.builds(a.Compare, op=st.sampled_from(list(a.CmpOp)), left=children, right=children),
        st.builds(a.Between, operand=children, low=children, high=children),
        st.builds(
            a.InList,
            operand=children,
            items=st.lists(children, max_size=3).map(tuple),
            negated=st.booleans(),
        ),
        st.builds(a.IsNull, operand=children, negated=st.booleans()),
        st.builds(
            a.Match,
            op=st.sampled_from([o for o in a.MatchOp if o not in QUANTIFIED]),
            left=children,
            right=children,
        ),
        st.builds(
            a.Match,
            op=st.sampled_from(sorted(QUANTIFIED, key=str)),
            left=children,
            right=st.builds(a.ListLit, items=st.lists(children, max_size=3).map(tuple)),
        ),
        st.builds(a.Within, operand=children, duration=durations),
        st.builds(a.ListLit, items=st.lists(children, max_size=3).map(tuple)),
        calls(children),
        aggregates(children),
        st.builds(a.Has, stream=names, where=st.none() | children, within=st.none() | durations),
        st.builds(
            a.Top,
            percent=st.one_of(
                st.integers(0, 100).map(lambda v: a.IntLit(value=v)),
                _decimals.map(lambda v: a.DecimalLit(value=abs(v))),
            ),
            by=children,
        ),
    )


def exprs(max_leaves: int = 12) -> st.SearchStrategy[a.Expr]:
    """Random well-formed trees of every node type, with at most ``max_leaves`` leaves."""
    return st.recursive(leaves, _extend, max_leaves=max_leaves)


# --- source text -----------------------------------------------------------------------

SOUP_TOKENS = (
    *sorted(KEYWORDS),
    "AND", "Or", "NOT", "Between", "Is", "starts with", "ends with", "not in", "in segment",
    "(", ")", "[", "]", ",", ".", "+", "-", "*", "/", "%", "=", "!=", "<", "<=", ">", ">=",
    "==", "<>", "=>", "&&", "||", "!", "&", "|", ";", "@", "$", "^", "~", "?", "\\",
    "x", "age", "orders", "orders.amount", "`first name`", "`", "`a``b`", "count", "count(",
    "sum", "has", "f(", "lower",
    "3", "0", "1_000", "1__0", "1_", "19.99", ".5", "1.", "1e5", "007",
    "'s'", "'", "'it''s'", '"q"', '"', "'\\q'", "'\\u00e9'", "'\\ud800'", "'\\u12'",
    "30d", "0d", "30m", "30M", "30days", "2hrs", "-30d", "45s", "30min", "6mo", "1y", "2w",
    "2024-03-31", "2024-02-30", "2024-13-01", "2024-01-01T12:00:00", "2024-01-01T25:00",
    "2024-01-01T12:00:00Z", "2024-01-01T12:00:00+02:00", "2024-01-01T12:00:00+02",
    "2024-01-01T12:00:00.1234567", "2024-1-1",
    "#c\n", "\n", "\t", "\r\n", "\x00", "\x0b", "\u00a0", "é", "🎉", "日本",
)  # fmt: skip
"""Fragments of segql, right and wrong, for fuzzing the parser and its error messages."""


def token_soup(max_tokens: int = 30) -> st.SearchStrategy[str]:
    """Text glued from :data:`SOUP_TOKENS`, with or without spaces in between."""
    parts = st.lists(st.sampled_from(SOUP_TOKENS), max_size=max_tokens)
    return st.one_of(parts.map(" ".join), parts.map("".join))
