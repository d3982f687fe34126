"""The untyped syntax tree produced by :func:`segql.parse`.

Nodes are frozen, slotted, keyword-only dataclasses. Every node has a ``span``; spans are
excluded from equality so that ``parse(format(e)) == e`` compares structure only.
``and`` / ``or`` are n-ary (``BoolOp``) so long chains stay shallow.
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

from segql.core.diagnostics import NO_SPAN, Span

__all__ = [
    "Aggregate",
    "Ago",
    "Arith",
    "ArithOp",
    "Between",
    "BoolLit",
    "BoolOp",
    "BoolOpKind",
    "Call",
    "CmpOp",
    "Compare",
    "DateLit",
    "DecimalLit",
    "DurationLit",
    "DurationUnit",
    "Expr",
    "Has",
    "InList",
    "InSegment",
    "IntLit",
    "IsNull",
    "ListLit",
    "Match",
    "MatchOp",
    "Name",
    "Neg",
    "Not",
    "Now",
    "NullLit",
    "StringLit",
    "TimestampLit",
    "Today",
    "Top",
    "Within",
]


class CmpOp(enum.Enum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


# `a op b` is `b FLIPPED[op] a`.
FLIPPED = {
    CmpOp.EQ: CmpOp.EQ,
    CmpOp.NE: CmpOp.NE,
    CmpOp.LT: CmpOp.GT,
    CmpOp.LE: CmpOp.GE,
    CmpOp.GT: CmpOp.LT,
    CmpOp.GE: CmpOp.LE,
}
# Python's comparison for each operator (on non-null values).
COMPARE: dict[CmpOp, Callable[[Any, Any], bool]] = {
    CmpOp.EQ: operator.eq,
    CmpOp.NE: operator.ne,
    CmpOp.LT: operator.lt,
    CmpOp.LE: operator.le,
    CmpOp.GT: operator.gt,
    CmpOp.GE: operator.ge,
}


class ArithOp(enum.Enum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    MOD = "%"


class BoolOpKind(enum.Enum):
    AND = "and"
    OR = "or"


class MatchOp(enum.Enum):
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"
    CONTAINS_ANY = "contains any"  # right: a list literal; some of its items is an element
    CONTAINS_ALL = "contains all"  # every item is an element
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"


class DurationUnit(enum.Enum):
    SECOND = "s"
    MINUTE = "min"
    HOUR = "h"
    DAY = "d"
    WEEK = "w"
    MONTH = "mo"
    YEAR = "y"


_SPAN = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntLit:
    value: int
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class DecimalLit:
    value: Decimal
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class StringLit:
    value: str
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolLit:
    value: bool
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class NullLit:
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class DateLit:
    value: dt.date
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class TimestampLit:
    """A timestamp; ``value`` is naive when written without a zone (schema timezone)."""

    value: dt.datetime
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationLit:
    amount: int
    unit: DurationUnit
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Name:
    """A field, trait or stream reference; ``orders.amount`` has two parts."""

    parts: tuple[str, ...]
    span: Span = _SPAN

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Now:
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Today:
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Ago:
    duration: DurationLit
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Neg:
    operand: Expr
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Not:
    operand: Expr
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Arith:
    op: ArithOp
    left: Expr
    right: Expr
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolOp:
    """``a and b and c`` (or ``or``) with at least two operands, never directly nested
    inside a BoolOp of the same kind."""

    op: BoolOpKind
    operands: tuple[Expr, ...]
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Compare:
    op: CmpOp
    left: Expr
    right: Expr
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Between:
    operand: Expr
    low: Expr
    high: Expr
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class InList:
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool = False
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class IsNull:
    operand: Expr
    negated: bool = False
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """``contains``, ``not contains``, ``starts with``, ``ends with``."""

    op: MatchOp
    left: Expr
    right: Expr
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Within:
    operand: Expr
    duration: DurationLit
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """A function call ``f(a, b)``; ``func`` is lower-cased."""

    func: str
    args: tuple[Expr, ...]
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    """``f(target [where C] [within D])`` where ``f`` is an aggregate function name
    (lower-cased) and ``target`` names a stream (``orders``) or a stream field
    (``orders.amount``). Which names are aggregates is decided by the parser."""

    func: str
    target: Name
    where: Expr | None = None
    within: DurationLit | None = None
    # a calendar function around the field (`count_distinct(date(visits.at))`), or None
    calendar: str | None = None
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowedBy:
    """``[not] followed by B [where C2] [within D2]`` after ``has A …`` (CONTRACT §5.3);
    not an expression of its own."""

    negated: bool
    stream: Name
    where: Expr | None = None
    within: DurationLit | None = None
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Has:
    """``has E [where C] [within D] [[not] followed by …]``."""

    stream: Name
    where: Expr | None = None
    within: DurationLit | None = None
    then: FollowedBy | None = None
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class InSegment:
    name: str
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Top:
    """``top P% by x``."""

    percent: IntLit | DecimalLit
    by: Expr
    span: Span = _SPAN


Expr: TypeAlias = (
    IntLit
    | DecimalLit
    | StringLit
    | BoolLit
    | NullLit
    | DateLit
    | TimestampLit
    | DurationLit
    | ListLit
    | Name
    | Now
    | Today
    | Ago
    | Neg
    | Not
    | Arith
    | BoolOp
    | Compare
    | Between
    | InList
    | IsNull
    | Match
    | Within
    | Call
    | Aggregate
    | Has
    | InSegment
    | Top
)


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions in source order (used by iterative walkers)."""
    match node:
        case (
            IntLit()
            | DecimalLit()
            | StringLit()
            | BoolLit()
            | NullLit()
            | DateLit()
            | TimestampLit()
            | DurationLit()
            | Name()
            | Now()
            | Today()
            | InSegment()
        ):
            return ()
        case ListLit(items=items):
            return items
        case Ago(duration=d):
            return (d,)
        case Neg(operand=o) | Not(operand=o) | IsNull(operand=o):
            return (o,)
        case Arith(left=a, right=b) | Compare(left=a, right=b) | Match(left=a, right=b):
            return (a, b)
        case BoolOp(operands=ops):
            return ops
        case Between(operand=o, low=lo, high=hi):
            return (o, lo, hi)
        case InList(operand=o, items=items):
            return (o, *items)
        case Within(operand=o, duration=d):
            return (o, d)
        case Call(args=args):
            return args
        case Has(stream=t, where=w, within=d, then=FollowedBy() as f):
            parts = (t, w, d, f.stream, f.where, f.within)
            return tuple(x for x in parts if x is not None)
        case Aggregate(target=t, where=w, within=d) | Has(stream=t, where=w, within=d):
            return tuple(x for x in (t, w, d) if x is not None)
        case Top(percent=p, by=b):
            return (p, b)
    raise AssertionError(f"unknown node {node!r}")


def walk(node: Expr) -> list[Expr]:
    """All nodes, pre-order, without recursion."""
    out: list[Expr] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out
