"""The typed tree: what the checker produces and every back end consumes.

Names are resolved (profile field -> column, trait and segment references inlined), types
are known and widened, age comparisons are rewritten (``t < 30d`` becomes ``t > 30d ago``),
``top P% by x`` and ``has`` have their own nodes. Back ends never re-check: they can rely
on every invariant documented on a node. Relative times (``Now``, ``Today``, ``Ago``)
stay symbolic here and are resolved against ``as_of`` by each back end.
"""

from __future__ import annotations

import datetime as dt
import enum
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from segql.core.diagnostics import NO_SPAN, Span
from segql.core.types import Type
from segql.lang.ast import ArithOp, BoolOpKind, CmpOp, DurationUnit

__all__ = [
    "PICKS",
    "Agg",
    "AggFunc",
    "Ago",
    "Arith",
    "Between",
    "BoolOp",
    "Classify",
    "Compare",
    "DateToTimestamp",
    "Duration",
    "EventField",
    "Exists",
    "Field",
    "Func",
    "FuncName",
    "InList",
    "IsNull",
    "IsTrue",
    "ListContains",
    "Lit",
    "Neg",
    "Not",
    "Now",
    "Percentile",
    "PriorField",
    "Sequence",
    "Shift",
    "StrMatch",
    "StrMatchOp",
    "TExpr",
    "Today",
    "TopPercent",
    "Within",
]

_SPAN = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Duration:
    """A positive duration; ``span`` is where it was written (for range errors)."""

    amount: int
    unit: DurationUnit
    span: Span = _SPAN

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"


class AggFunc(enum.Enum):
    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    AVG = "avg"
    MEDIAN = "median"
    MIN = "min"
    MAX = "max"
    FIRST = "first"
    LAST = "last"
    FIRST_VALUE = "first_value"  # f of the earliest event with a non-null f
    LAST_VALUE = "last_value"
    MODE = "mode"  # the most frequent non-null f; ties: the smallest


# Aggregates that pick one event's value: computed in their own query, not the pass.
PICKS = frozenset({AggFunc.FIRST_VALUE, AggFunc.LAST_VALUE, AggFunc.MODE})


class FuncName(enum.Enum):
    LOWER = "lower"
    UPPER = "upper"
    TRIM = "trim"
    LENGTH = "length"  # strings: characters; lists: elements
    ABS = "abs"
    SIGN = "sign"  # -1, 0, 1; an integer
    DISTANCE_KM = "distance_km"  # haversine, a float
    DATE = "date"  # the local calendar date of a time
    START_OF_WEEK = "start_of_week"  # midnight (local) of the Monday, as a timestamp
    START_OF_MONTH = "start_of_month"
    START_OF_YEAR = "start_of_year"
    BUCKET = "bucket"  # args: the salt (a literal) and the contact's key (a Field)
    ROUND = "round"  # round(x) or round(x, digits); halves away from zero
    FLOOR = "floor"
    CEIL = "ceil"
    COALESCE = "coalesce"
    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    WEEKDAY = "weekday"  # 1 = Monday .. 7 = Sunday
    DAYS_SINCE = "days_since"
    DAYS_UNTIL_ANNIVERSARY = "days_until_anniversary"


class StrMatchOp(enum.Enum):
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lit:
    """A constant. ``value`` is None (null), bool, int, Decimal, float, str, date,
    a UTC-aware datetime (``type`` TIMESTAMP), or a tuple for list types."""

    value: object
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """A profile field: column ``column`` of the entity table."""

    name: str
    column: str
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class EventField:
    """A field of the event currently being aggregated (only inside Agg/Exists ``where``
    and stream filters). ``column`` is the stream table's column."""

    stream: str
    name: str
    column: str
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorField:
    """``A.f`` inside the ``where`` after ``followed by``: field ``column`` of the earlier
    event a of stream A (only inside a Sequence's ``then_where``)."""

    stream: str
    name: str
    column: str
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Now:
    """``as_of``."""

    type: Type = Type.TIMESTAMP
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Today:
    """Start of ``as_of``'s day in the schema timezone."""

    type: Type = Type.TIMESTAMP
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Ago:
    """``as_of - duration`` (months and years are calendar units in the schema timezone)."""

    duration: Duration
    type: Type = Type.TIMESTAMP
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Shift:
    """``operand + duration`` (``back``: minus): seconds to hours exact, days to years on
    the wall clock of the schema timezone (CONTRACT §5.2); the operand is a timestamp."""

    operand: TExpr
    duration: Duration
    back: bool
    type: Type = Type.TIMESTAMP
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class DateToTimestamp:
    """Widening of a DATE to the TIMESTAMP of its midnight in the schema timezone."""

    operand: TExpr
    type: Type = Type.TIMESTAMP
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Neg:
    operand: TExpr
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Arith:
    """Numeric arithmetic. ``type`` is the widened result type; ``/`` is always FLOAT and
    ``/`` or ``%`` by zero is null. ``%`` truncates toward zero like SQL."""

    op: ArithOp
    left: TExpr
    right: TExpr
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Not:
    operand: TExpr
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolOp:
    op: BoolOpKind
    operands: tuple[TExpr, ...]
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Compare:
    """Both sides have the same type, or are both numeric. Dates compared with timestamps
    are already wrapped in DateToTimestamp. Booleans only use = and !=."""

    op: CmpOp
    left: TExpr
    right: TExpr
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Between:
    """Inclusive: ``low <= operand <= high`` (SQL BETWEEN)."""

    operand: TExpr
    low: TExpr
    high: TExpr
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class InList:
    """SQL ``IN``: true if equal to an item; else null if the operand or an item is null;
    else false. ``negated`` is ``NOT IN`` (the three-valued negation)."""

    operand: TExpr
    items: tuple[TExpr, ...]
    negated: bool = False
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class IsNull:
    operand: TExpr
    negated: bool = False
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class StrMatch:
    """Case-sensitive substring / prefix / suffix test; ``%`` and ``_`` are ordinary."""

    op: StrMatchOp
    left: TExpr
    right: TExpr
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class ListContains:
    """``list contains item``: null if the list or item is null; true if an element equals
    the item; otherwise false (null elements are ignored)."""

    list: TExpr
    item: TExpr
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Within:
    """``as_of - duration <= operand <= as_of``; operand is TIMESTAMP."""

    operand: TExpr
    duration: Duration
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Func:
    func: FuncName
    args: tuple[TExpr, ...]
    type: Type
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Agg:
    """An aggregate over one contact's events of ``stream`` with ``time <= as_of``, the
    stream's schema filter, ``where`` and ``within`` applied. ``column`` is the aggregated
    column (None for count/first/last). Over no events: count, count_distinct, sum -> 0;
    the others -> null. ``sum`` ignores nulls (all-null sums to 0)."""

    func: AggFunc
    stream: str
    column: str | None
    where: TExpr | None
    within: Duration | None
    type: Type
    # what is aggregated when not the column itself: a calendar function of it
    operand: TExpr | None = None
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Exists:
    """``has E where C within D``: whether such an event exists; never null."""

    stream: str
    where: TExpr | None
    within: Duration | None
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Sequence:
    """``has A where C within D [not] followed by B where C2 within D2`` (CONTRACT §5.3):
    whether some event a of A (as in Exists) has (``negated``: has no) event b of B, with
    B's schema filter and ``then_where``, ``a.time < b.time <= as_of`` and, with
    ``then_within``, ``b.time <= a.time + D2`` (calendar arithmetic as Shift). Never null."""

    stream: str
    where: TExpr | None
    within: Duration | None
    then: str
    then_where: TExpr | None
    then_within: Duration | None
    negated: bool
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Classify:
    """A segmentation's value (CONTRACT §6.1): ``names[i]`` for the first ``conditions[i]``
    that is true (unknown counts as not true), else ``otherwise`` (None: null)."""

    conditions: tuple[TExpr, ...]
    names: tuple[str, ...]
    otherwise: str | None
    segmentation: str
    type: Type = Type.STRING
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class AtTime:
    """``operand`` evaluated at the fixed instant ``as_of`` (aware UTC), seeing only events
    after ``since`` when it is set — an experiment's audience frozen at its start, its goal
    over ``(start, start + window]`` (CONTRACT §6.5). Opaque to the plan around it: it has
    no children, and each back end evaluates it as a query (or predicate) of its own."""

    operand: TExpr
    as_of: dt.datetime
    since: dt.datetime | None = None
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class IsTrue:
    """``in segment S``: true exactly when the segment's expression is true; never null."""

    operand: TExpr
    segment: str
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class Percentile:
    """``100 * PERCENT_RANK() OVER (ORDER BY operand)`` among contacts whose operand is not
    null (a single such contact gets 0); null operand gives null. Needs the population.
    With ``tiles``, `ntile(operand, tiles)`: ``NTILE(tiles) OVER (ORDER BY operand, key)``,
    ties broken by the entity key in binary order (an integer)."""

    operand: TExpr
    tiles: int | None = None
    type: Type = Type.FLOAT
    span: Span = _SPAN


@dataclass(frozen=True, slots=True, kw_only=True)
class TopPercent:
    """``top P% by x``: ``percentile(x) >= 100 - P``, evaluated exactly as
    ``(rank - 1) * 100 >= (100 - P) * (n - 1)`` with rank = RANK() among the n contacts with
    non-null x. Null x gives null, as any comparison with null."""

    percent: Decimal
    operand: TExpr
    type: Type = Type.BOOLEAN
    span: Span = _SPAN


TExpr: TypeAlias = (
    Lit
    | Field
    | EventField
    | Now
    | Today
    | Ago
    | DateToTimestamp
    | Shift
    | Neg
    | Arith
    | Not
    | BoolOp
    | Compare
    | Between
    | InList
    | IsNull
    | StrMatch
    | ListContains
    | Within
    | Func
    | Agg
    | Exists
    | Sequence
    | PriorField
    | Classify
    | AtTime
    | IsTrue
    | Percentile
    | TopPercent
)


def children(node: TExpr) -> tuple[TExpr, ...]:
    match node:
        case Lit() | Field() | EventField() | PriorField() | Now() | Today() | Ago() | AtTime():
            return ()
        case DateToTimestamp(operand=o) | Neg(operand=o) | Not(operand=o) | IsNull(operand=o):
            return (o,)
        case Within(operand=o) | IsTrue(operand=o) | Percentile(operand=o):
            return (o,)
        case Shift(operand=o):
            return (o,)
        case TopPercent(operand=o):
            return (o,)
        case Arith(left=x, right=y) | Compare(left=x, right=y) | StrMatch(left=x, right=y):
            return (x, y)
        case ListContains(list=x, item=y):
            return (x, y)
        case BoolOp(operands=ops):
            return ops
        case Between(operand=o, low=lo, high=hi):
            return (o, lo, hi)
        case InList(operand=o, items=items):
            return (o, *items)
        case Func(args=args):
            return args
        case Classify(conditions=conds):
            return conds
        case Agg(where=w, operand=o):
            return tuple(x for x in (o, w) if x is not None)
        case Exists(where=w):
            return () if w is None else (w,)
        case Sequence(where=w, then_where=w2):
            return tuple(x for x in (w, w2) if x is not None)
    raise AssertionError(f"unknown node {node!r}")


def walk(node: TExpr) -> list[TExpr]:
    """Every distinct node under ``node``, parents first. Trait and segment bodies are
    shared objects (the tree is a DAG), so each is visited once: linear in the DAG, where
    visiting every path could take exponential time."""
    out: list[TExpr] = []
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


_NODE_TYPES = typing.get_args(TExpr)


def is_node(value: object) -> bool:
    """Whether ``value`` is a typed tree (as opposed to source text or a syntax tree)."""
    return isinstance(value, _NODE_TYPES)


def needs_population(node: TExpr) -> bool:
    return any(isinstance(n, Percentile | TopPercent) for n in walk(node))


# Re-exported for back ends.
__all__ += ["ArithOp", "BoolOpKind", "CmpOp", "DurationUnit", "children", "is_node", "walk"]
