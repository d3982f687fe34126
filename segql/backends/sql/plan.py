"""Planning the query of a segment: which streams each SELECT reads, which shared
subexpressions get their own CTE, and the records the compiler fills while it walks the
typed tree."""

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from segql.core.diagnostics import CheckError, Diagnostic, Span
from segql.ir import dag
from segql.ir import nodes as ir
from segql.lang.ast import COMPARE, FLIPPED, BoolOpKind
from segql.lang.functions import FUNCTIONS, Empty

__all__ = ["HOIST_DEPTH", "HOIST_SIZE", "SqlOptions", "conjuncts"]


def refuse(code: str, message: str, span: Span, *hints: str) -> CheckError:
    return CheckError(Diagnostic(code=code, message=message, span=span, hints=hints))


HOIST_SIZE = 256
"""A shared subexpression gets its own CTE when writing out its copies would add more
than this many nodes (copies beyond the first × nodes of one copy)."""
HOIST_DEPTH = 64
"""…or when it nests more than this many levels: a CTE cuts the depth sqlglot prints."""
SQL_BUDGET = 20_000
"""If the SQL would still hold more nodes than this, every shared subexpression gets a CTE."""


ENTITY = "c"

EVENT = "e"


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlOptions:
    """``sources`` overrides how a table name is read (the DuckDB engine passes
    ``read_parquet(...)`` expressions for ``file:`` sources)."""

    sources: dict[str, Any] = field(default_factory=dict)
    # Values returned beside the key (engine `members`): output name and typed value.
    select: tuple[tuple[str, ir.TExpr], ...] = ()
    # Every contact's values, not a filter (a batch of segments): `has` is counted in its
    # stream's pass, which the batch reads anyway, sequences and conditions reading the
    # contact become key sets joined once, instead of probes per contact.
    batch: bool = False
    # Only events after this instant count (an experiment's goal window, CONTRACT §6.5).
    since: dt.datetime | None = None
    # A history's time grid (as_of is the last point): the query is one row of sums — per
    # point its size and how many entered and exited since the point before (`h0`, `h1`,
    # …; transitions.py) — sharing each stream's pass; every contact's value is needed,
    # as in a batch.
    points: tuple[dt.datetime, ...] = ()

    @property
    def every_contact(self) -> bool:
        """Every contact's values are wanted, not a filter (a batch, a history)."""
        return self.batch or bool(self.points)


# Exact decimal arithmetic on literals (a `top` percent has at most 38 digits).
EXACT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])


def constant_int(node: ir.TExpr) -> int:
    """The digits of ``round``: an integer literal, perhaps negated (the checker's rule)."""
    match node:
        case ir.Lit(value=int() as v):
            return v
        case ir.Neg(operand=ir.Lit(value=int() as v)):
            return -v
    raise refuse(
        "wrong-arguments", "the number of digits for `round` must be a whole number", node.span
    )


# Aggregates that are 0, not null, over no events (declared in the function table).
ZERO_WHEN_EMPTY = frozenset(f for f in ir.AggFunc if FUNCTIONS[f.value].empty is Empty.ZERO)


def never_null(operand: ir.TExpr) -> bool:
    """A count or a sum (0 over no events); anything else may be null (and is not ranked)."""
    return isinstance(operand, ir.Agg) and operand.func in ZERO_WHEN_EMPTY


_CMP = COMPARE
_FLIP = FLIPPED


def conjuncts(texpr: ir.TExpr) -> tuple[ir.TExpr, ...]:
    """The operands of a top-level `and`, else the condition itself."""
    if isinstance(texpr, ir.BoolOp) and texpr.op is BoolOpKind.AND:
        return texpr.operands
    return (texpr,)


def conjunction(parts: tuple[ir.TExpr, ...]) -> ir.TExpr | None:
    """The `and` of ``parts`` (the inverse of :func:`conjuncts`); None for no parts."""
    if len(parts) <= 1:
        return parts[0] if parts else None
    return ir.BoolOp(op=BoolOpKind.AND, operands=parts)


def required_streams(texpr: ir.TExpr, counted_has: bool = False) -> frozenset[str]:
    """Streams without whose events the whole condition cannot be true.

    A top-level conjunct that is false or unknown when a stream's aggregates take their
    empty values (count and sum 0, the others null) makes that stream required, so its
    pass can be inner-joined; so does a top-level ``has`` when it is counted in the pass
    (``counted_has``; as an EXISTS subquery its events need not be in the pass)."""
    parts = conjuncts(texpr)
    out: set[str] = set()

    def null_when_empty(x: ir.TExpr) -> str | None:
        # (a pick, or an aggregate whose condition reads the contact, is computed in its
        # own query: its stream's pass may hold other events)
        if (
            isinstance(x, ir.Agg)
            and x.func not in ZERO_WHEN_EMPTY
            and x.func not in ir.PICKS
            and not correlated(x)
        ):
            return x.stream
        return None

    for c in parts:
        match c:
            case ir.Compare(op=op, left=x, right=y):
                for agg, other, o in ((x, y, op), (y, x, _FLIP[op])):
                    found = null_when_empty(agg)
                    if found is not None:
                        out.add(found)
                    elif (
                        isinstance(agg, ir.Agg)
                        and isinstance(other, ir.Lit)
                        and other.value is not None
                        and not _CMP[o](0, other.value)
                    ):
                        out.add(agg.stream)
            case ir.Between(operand=x) | ir.Within(operand=x):
                found = null_when_empty(x)
                if found is not None:
                    out.add(found)
            case ir.IsNull(operand=x, negated=True):
                found = null_when_empty(x)
                if found is not None:
                    out.add(found)
            case ir.Exists(stream=s) if counted_has and not correlated(c):
                out.add(s)
    return frozenset(out)


HEAVY = (
    ir.Agg,
    ir.AtTime,
    ir.Exists,
    ir.Sequence,
    ir.Percentile,
    ir.TopPercent,
    ir.EventField,
    ir.PriorField,
)
# What, inside an event condition, reads the contact rather than the event (CONTRACT §5.3).
CONTACT_LEVEL = (
    ir.Field,
    ir.Agg,
    ir.Exists,
    ir.Sequence,
    ir.IsTrue,
    ir.Classify,
    ir.AtTime,
    ir.Percentile,
    ir.TopPercent,
)


def correlated(node: ir.Agg | ir.Exists | ir.Sequence) -> bool:
    """Whether an aggregate's event condition reads the contact: then the stream's events
    are joined to the contact (the pass, grouped by the key alone, cannot see it)."""
    conds = [node.where, node.then_where] if isinstance(node, ir.Sequence) else [node.where]
    return any(reads_contact(c) for c in conds if c is not None)


def reads_contact(cond: ir.TExpr) -> bool:
    """Whether an event condition (or a part of one) reads the contact (CONTRACT §5.3)."""
    return any(isinstance(n, CONTACT_LEVEL) for n in ir.walk(cond))


def reads_event(x: ir.TExpr) -> bool:
    """Whether ``x`` reads a field of an event (the one aggregated, or a sequence's first)."""
    return any(isinstance(n, ir.EventField | ir.PriorField) for n in ir.walk(x))


def profile_only(node: ir.TExpr) -> bool:
    """Reads only profile fields (no events, no population)."""
    return not any(isinstance(n, HEAVY) for n in ir.walk(node))


def entity_only_conjuncts(texpr: ir.TExpr) -> list[ir.TExpr]:
    """Top-level conjuncts that read only profile fields."""
    parts = conjuncts(texpr)
    # (a constant restricts nothing: `true`, the condition of a batch, would cost a
    # semi join of every event with every contact)
    return [c for c in parts if profile_only(c) and not isinstance(c, ir.Lit)]


LEAVES = (ir.Lit, ir.Field, ir.EventField, ir.PriorField, ir.Now, ir.Today, ir.Ago)
COLUMNS = (ir.Agg, ir.Percentile, ir.TopPercent)  # already one column of a shared CTE


def shared_ctes(roots: list[ir.TExpr], max_depth: int) -> list[ir.TExpr]:
    """The contact-level subexpressions of ``roots`` (the condition, and the values
    returned beside the key) to compute once each in a CTE, dependencies first.

    1. Bottom-up over the DAG, a node is hoisted when it occurs more than once in the tree
       written out and its copies beyond the first would add more than ``HOIST_SIZE``
       nodes; a hoisted node then counts as one node (a column) in its parents.
    2. Counting again how often each node is written, now that hoisted nodes are written
       once: a node written once needs no CTE of its own. A node nesting deeper than
       ``max_depth`` is hoisted too (the depth restarts at its column).
    3. If the SQL would still exceed ``SQL_BUDGET`` nodes, the same with every shared node.

    Ordinary segments have no such node: their SQL does not change. Event conditions are
    never hoisted (they are about one event, and the expression limits bound them)."""
    # Several roots are analysed as the operands of one (never hoisted) node.
    texpr = conjunction(tuple(roots))
    assert texpr is not None
    sc = dag.scan(texpr)
    if not sc.shared and sc.depth[id(texpr)] <= max_depth:
        return []  # the common case: nothing shared, nothing deep
    order = sc.order
    contact: set[int] = set()
    stack = [texpr]
    while stack:
        n = stack.pop()
        if id(n) not in contact:
            contact.add(id(n))
            if not isinstance(n, ir.Agg | ir.Exists | ir.Sequence):
                stack.extend(ir.children(n))
    inline = [
        n for n in order if id(n) in contact and not isinstance(n, ir.Agg | ir.Exists | ir.Sequence)
    ]
    hoistable = {id(n) for n in inline if not isinstance(n, (*LEAVES, *COLUMNS))}
    hoistable.discard(id(texpr) if len(roots) > 1 else -1)
    cap = 1 << 62

    def written(hoisted: set[int]) -> dict[int, int]:
        """How often each node is written, a hoisted one's body once."""
        occ = {id(texpr): 1}
        for n in reversed(inline):
            k = 1 if id(n) in hoisted else occ.get(id(n), 0)
            for c in ir.children(n):
                occ[id(c)] = min(cap, occ.get(id(c), 0) + k)
        return occ

    def sizes(keep: Callable[[ir.TExpr, int, int], bool]) -> tuple[list[ir.TExpr], int]:
        """Bottom-up sizes and depths; ``keep(node, size, depth)`` decides hoisting."""
        size: dict[int, int] = {}
        depth: dict[int, int] = {}
        hoisted: list[ir.TExpr] = []
        total = 0
        for n in order:
            if isinstance(n, COLUMNS):
                size[id(n)] = depth[id(n)] = 1
                continue
            kids = ir.children(n)
            size[id(n)] = min(cap, 1 + sum(size[id(c)] for c in kids))
            depth[id(n)] = 1 + max((depth[id(c)] for c in kids), default=0)
            if id(n) in hoistable and keep(n, size[id(n)], depth[id(n)]):
                hoisted.append(n)
                total += size[id(n)]
                size[id(n)] = depth[id(n)] = 1
        return hoisted, total + size[id(texpr)]

    def plan(threshold: int) -> tuple[list[ir.TExpr], int]:
        raw = written(set())
        first, _ = sizes(lambda n, sz, _: (raw[id(n)] - 1) * sz > threshold)
        again = written({id(n) for n in first})
        chosen = {id(n) for n in first if again[id(n)] > 1}
        return sizes(lambda n, _, d: id(n) in chosen or d > max_depth)

    hoisted, total = plan(HOIST_SIZE)
    if total > SQL_BUDGET:
        hoisted, _ = plan(0)
    return hoisted


@dataclass
class Scope:
    """What one SELECT reads besides the entity: stream passes and other CTEs (windows,
    shared subexpressions), which it must join."""

    streams: set[str] = field(default_factory=set)
    derived: set[str] = field(default_factory=set)


@dataclass
class Level:
    """The shared subexpressions that read only lower levels: one CTE, a column each."""

    alias: str
    values: list[tuple[str, Any]] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)


@dataclass
class PassAgg:
    """One aggregate of a stream's pass, built into SQL once the pass is complete."""

    alias: str
    func: ir.AggFunc
    target: Any  # the aggregated column (None for count)
    cond: Any  # the event condition (where/within), or None for every event
    cond_key: tuple[str, ir.Duration | None, dt.datetime | None] | None
    # On a history's time grid (SqlOptions.points): the event condition alone, the
    # point the aggregate is for, and whether partial aggregates per grid step add up to
    # it exactly (grid.py).
    where: Any = None
    point: int | None = None
    exact: bool = False
    # A mask of the points whose window sees the event (grid.window_mask): OR-ed, not
    # counted
    mask: bool = False
    # `has E within D` as a test of E's latest time (EventQueries.latest_test): 1 or 0
    latest: Any = None


@dataclass
class StreamAggs:
    name: str
    columns: dict[tuple[Any, ...], PassAgg] = field(default_factory=dict)
    all_windowed: bool = True
    earliest: dt.datetime | None = None

    def alias(self) -> str:
        return f"segql_{self.name}"

    @property
    def windowed(self) -> bool:
        """Every aggregate looks only at a recent window of events."""
        return self.all_windowed and self.earliest is not None


def distinct_conds(aggs: list[PassAgg]) -> list[PassAgg]:
    """One aggregate per distinct condition (for the pass's ``OR`` of them)."""
    seen: dict[Any, PassAgg] = {}
    for a in aggs:
        seen.setdefault(a.cond_key, a)
    return list(seen.values())
