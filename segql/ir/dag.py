"""Typed trees as the DAGs they are: shared nodes, sizes and cost limits.

The checker inlines traits and segments by reference: every use of `vip` points at the one
typed tree of vip's definition. A typed tree is therefore a DAG, and written out as a tree
it can be exponentially larger (`t1: t0 + t0`, `t2: t1 + t1`, …). Everything here visits
each distinct node once and never recurses, so it is linear in the DAG and safe at any
depth. Back ends use it to compile each shared node once (docs/performance.md, "Shared
subexpressions"), and every entry point uses :func:`cost_problem` to enforce the cost
limits of :class:`~segql.limits.Limits`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from segql.core.diagnostics import NO_SPAN, Diagnostic, LimitError, Span
from segql.core.limits import Limits
from segql.ir import nodes as ir

__all__ = [
    "Cost",
    "Scan",
    "Shapes",
    "cost_of",
    "cost_problem",
    "enforce",
    "guard",
    "occurrences",
    "post_order",
    "scan",
]


def post_order(root: ir.TExpr, *, seen: set[int] | None = None) -> list[ir.TExpr]:
    """The distinct nodes under ``root`` (by identity), each after all its children.

    Nodes whose id is in ``seen`` are skipped (with their subtrees); ``seen`` is updated."""
    done = set() if seen is None else seen
    out: list[ir.TExpr] = []
    stack: list[tuple[ir.TExpr, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        if id(node) in done:
            continue
        done.add(id(node))
        stack.append((node, True))
        for child in reversed(ir.children(node)):
            if id(child) not in done:
                stack.append((child, False))
    return out


# Reached twice, these cost nothing extra to write twice: leaves, and the aggregates and
# rankings that back ends compute once anyway (a pass column, a window).
_CHEAP = (
    ir.Lit,
    ir.Field,
    ir.EventField,
    ir.PriorField,
    ir.Now,
    ir.Today,
    ir.Ago,
    ir.Agg,
    ir.Percentile,
    ir.TopPercent,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scan:
    """One pass over a DAG: ``order`` has the distinct nodes, children first (root last);
    ``depth`` maps ids to the nesting depth written out; ``shared`` says whether a node
    other than a leaf, an aggregate or a ranking is reached more than once. ``complete``
    is False when the scan stopped at its budget of nodes."""

    order: list[ir.TExpr]
    depth: dict[int, int]
    shared: bool
    complete: bool = True


def scan(root: ir.TExpr, *, budget: int | None = None) -> Scan:
    """:class:`Scan` ``root``, stopping after ``budget`` distinct nodes."""
    order: list[ir.TExpr] = []
    depth: dict[int, int] = {}
    seen: set[int] = set()
    shared = False
    stack: list[tuple[ir.TExpr, tuple[ir.TExpr, ...] | None]] = [(root, None)]
    while stack:
        node, kids = stack.pop()
        if kids is not None:
            d = 0
            for c in kids:
                dc = depth[id(c)]
                if dc > d:
                    d = dc
            depth[id(node)] = d + 1
            order.append(node)
            continue
        if id(node) in seen:
            shared = shared or not isinstance(node, _CHEAP)
            continue
        seen.add(id(node))
        if budget is not None and len(seen) > budget:
            return Scan(order=order, depth=depth, shared=shared, complete=False)
        kids = ir.children(node)
        stack.append((node, kids))
        stack.extend((c, None) for c in reversed(kids))
    return Scan(order=order, depth=depth, shared=shared)


def occurrences(order: list[ir.TExpr]) -> dict[int, int]:
    """How often each node of ``order`` (a :func:`post_order`, root last) occurs in the
    tree written out: the number of paths to it from the root. Capped at 2**62."""
    occ: dict[int, int] = {id(order[-1]): 1} if order else {}
    cap = 1 << 62
    for node in reversed(order):
        k = occ.get(id(node), 0)
        for child in ir.children(node):
            occ[id(child)] = min(cap, occ.get(id(child), 0) + k)
    return occ


_NODE_FIELDS: dict[type, tuple[str, ...]] = {}


def _scalar_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that are not child nodes (nor the span)."""
    got = _NODE_FIELDS.get(cls)
    if got is None:
        got = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name != "span" and "TExpr" not in str(f.type)
        )
        _NODE_FIELDS[cls] = got
    return got


class Shapes:
    """Structural identity: equal ids for nodes that are equal as trees, ignoring where
    they come from in the source (hash-consing, linear in the DAG). Literals are equal only
    when written the same (``1.0`` and ``1.00`` differ), so equal nodes compile to the
    same SQL text."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._table: dict[tuple[object, ...], int] = {}
        self._alive: list[ir.TExpr] = []  # ids stay valid while the nodes live

    def __getitem__(self, node: ir.TExpr) -> int:
        got = self._ids.get(id(node))
        if got is not None:
            return got
        seen = set(self._ids)
        for n in post_order(node, seen=seen):
            key = (
                type(n),
                tuple(repr(getattr(n, f)) for f in _scalar_fields(type(n))),
                tuple(self._ids[id(c)] for c in ir.children(n)),
            )
            self._ids[id(n)] = self._table.setdefault(key, len(self._table))
            self._alive.append(n)
        return self._ids[id(node)]


# ---------------------------------------------------------------------------------------
# Costs and their limits
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """``nodes``: distinct nodes (each trait and segment counted once); ``depth``: nesting
    depth written out as a tree; ``windows``: different population rankings."""

    nodes: int
    depth: int
    windows: int


def _windows(order: list[ir.TExpr]) -> int:
    found = [n for n in order if isinstance(n, ir.Percentile | ir.TopPercent)]
    if len(found) < 2:
        return len(found)
    shapes = Shapes()
    return len({shapes[w] for w in found})


def cost_of(root: ir.TExpr) -> Cost:
    """The cost of a typed tree, in time linear in its DAG."""
    sc = scan(root)
    return Cost(nodes=len(sc.order), depth=sc.depth[id(root)], windows=_windows(sc.order))


def _deepest_path(
    root: ir.TExpr, depth: Mapping[int, int], traits: Mapping[str, ir.TExpr]
) -> tuple[str, ...]:
    """The traits and segments on a deepest path, outermost first."""
    names = {id(body): name for name, body in traits.items()}
    out: list[str] = []
    node: ir.TExpr | None = root
    while node is not None:
        if isinstance(node, ir.IsTrue):
            out.append(f"segment `{node.segment}`")
        elif isinstance(node, ir.Classify):
            out.append(f"segmentation `{node.segmentation}`")
        elif id(node) in names and node is not root:
            out.append(f"trait `{names[id(node)]}`")
        kids = ir.children(node)
        node = max(kids, key=lambda c: depth[id(c)]) if kids else None
    return tuple(dict.fromkeys(out))


def _chain(path: tuple[str, ...]) -> str:
    if not path:
        return ""
    if len(path) <= 6:
        return f" (through {' → '.join(path)})"
    shown = [*path[:3], "…", *path[-2:]]
    return f" (through {' → '.join(shown)}: {len(path)} in all)"


def cost_problem(
    root: ir.TExpr,
    limits: Limits,
    *,
    what: str = "this expression",
    span: Span = NO_SPAN,
    traits: Mapping[str, ir.TExpr] | None = None,
) -> Diagnostic | None:
    """A ``limit-exceeded`` diagnostic when ``root`` costs more than ``limits`` allow.

    ``traits`` (the schema's typed traits) lets the message name the traits on a path
    that is too deep; segment references carry their own names. Work is bounded by
    ``limits.max_nodes`` however large the DAG."""
    budget = limits.max_nodes
    sc = scan(root, budget=budget)
    if not sc.complete:
        return Diagnostic(
            code="limit-exceeded",
            message=f"{what} is too large: more than {budget:,} nodes with the traits and "
            f"segments it uses (each counted once); the limit is {budget:,}",
            span=span,
            hints=("split it into smaller segments, or raise `max_nodes` in segql.Limits",),
        )
    depth = sc.depth
    if depth[id(root)] > limits.max_expanded_depth:
        path = _deepest_path(root, depth, traits or {})
        return Diagnostic(
            code="limit-exceeded",
            message=f"{what} is nested {depth[id(root)]:,} levels deep with the traits and "
            f"segments it uses written out{_chain(path)}; the limit is "
            f"{limits.max_expanded_depth:,}",
            span=span,
            hints=(
                "shorten the chains of segments and traits that use each other, or raise "
                "`max_expanded_depth` in segql.Limits",
            ),
        )
    windows = _windows(sc.order)
    if windows > limits.max_windows:
        return Diagnostic(
            code="limit-exceeded",
            message=f"{what} ranks all contacts by {windows} different values "
            f"(`percentile`, `ntile`, `top … by`); the limit is {limits.max_windows}",
            span=span,
            hints=(
                "each ranking is a pass over every contact: use fewer, or raise "
                "`max_windows` in segql.Limits",
            ),
        )
    return None


def enforce(
    root: ir.TExpr, limits: Limits, *, traits: Mapping[str, ir.TExpr] | None = None
) -> None:
    """Raise :class:`LimitError` when ``root`` costs more than ``limits`` allow."""
    problem = cost_problem(root, limits, span=root.span, traits=traits)
    if problem is not None:
        raise LimitError(problem)


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Turn Python running out of stack or memory into a ``limit-exceeded`` error: the
    last resort when limits were raised far beyond their defaults (within the defaults,
    no stage comes near either)."""
    try:
        yield
    except RecursionError:
        raise LimitError(
            Diagnostic(
                code="limit-exceeded",
                message=f"{what} is nested too deeply for Python's recursion limit",
                hints=("lower `max_depth` or `max_expanded_depth` in segql.Limits",),
            )
        ) from None
    except MemoryError:
        raise LimitError(
            Diagnostic(
                code="limit-exceeded",
                message=f"{what} is too large to build in memory",
                hints=("lower `max_nodes` or `max_terms` in segql.Limits",),
            )
        ) from None
