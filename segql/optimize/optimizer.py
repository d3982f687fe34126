"""Rewrites of the typed tree that keep every result and give SQL engines cheaper plans.

Each rule is a pure function from a node to a node (or None when it does not apply);
`optimize` applies them bottom-up. The in-process evaluator does not need them; the SQL
compiler runs them first. Tests (tests/test_optimize.py) check each rule on fixture pairs
and, by hypothesis, that optimized and unoptimized SQL return the same members on DuckDB.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

from segql.ir import dag
from segql.ir import nodes as ir
from segql.lang.ast import COMPARE, FLIPPED

__all__ = ["RULES", "count_as_exists", "optimize"]

Rule = Callable[[ir.TExpr], ir.TExpr | None]


def count_as_exists(node: ir.TExpr) -> ir.TExpr | None:
    """``count(E …) >= 1`` is ``has E …``, and ``count(E …) = 0`` is ``not has E …``.

    A count is never null, so any comparison of it with an integer that, for every count
    of at least one, has the same truth value — and the opposite one at zero — only asks
    whether an event exists. Engines answer that with a semi (anti) join that stops at the
    first event, instead of counting every event of every contact (measured in
    docs/performance.md)."""
    if not isinstance(node, ir.Compare):
        return None
    op, agg, lit = node.op, node.left, node.right
    if isinstance(lit, ir.Agg):
        op, agg, lit = FLIPPED[op], lit, agg
    if not (
        isinstance(agg, ir.Agg)
        and agg.func is ir.AggFunc.COUNT
        and isinstance(lit, ir.Lit)
        and type(lit.value) is int
    ):
        return None
    k = lit.value
    test = COMPARE[op]
    at_zero = test(0, k)
    # The test is constant over each of n < k, n = k and n > k; sample each where n >= 1.
    positive = {test(n, k) for n in (1, k, k + 1, 10**18) if n >= 1}
    if len(positive) != 1 or positive == {at_zero}:
        return None
    exists = ir.Exists(stream=agg.stream, where=agg.where, within=agg.within, span=node.span)
    return exists if at_zero is False else ir.Not(operand=exists, span=node.span)


RULES: tuple[Rule, ...] = (count_as_exists,)


def optimize(texpr: ir.TExpr, rules: tuple[Rule, ...] = RULES) -> ir.TExpr:
    """Apply ``rules`` bottom-up until none applies at a node.

    Shared nodes (trait and segment bodies) are rewritten once and stay shared, and no
    recursion follows the tree's depth: the work is linear in the DAG (segql.dag)."""
    if not any(rule(n) is not None for n in ir.walk(texpr) for rule in rules):
        return texpr
    return _Rewriter(rules).run(texpr)


class _Rewriter:
    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.done: dict[int, ir.TExpr] = {}  # id of a node -> its rewritten form
        self.alive: list[ir.TExpr] = []  # every node whose id is in ``done``

    def run(self, root: ir.TExpr) -> ir.TExpr:
        """``root`` with its children rewritten first, then the first rule that applies;
        a rule's result is rewritten in turn (rules make what they match smaller)."""
        for node in dag.post_order(root, seen=set(self.done)):
            out = self._rebuilt(node)
            found = next((f for rule in self.rules if (f := rule(out)) is not None), None)
            if found is not None:
                self.alive.append(found)
                out = self.run(found)
            self.alive.append(node)
            self.done[id(node)] = out
        return self.done[id(root)]

    def _rebuilt(self, node: ir.TExpr) -> ir.TExpr:
        """``node`` with its (already rewritten) children replaced."""
        done = self.done
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if _is_node(value):
                new = done[id(value)]
                if new is not value:
                    changes[f.name] = new
            elif isinstance(value, tuple) and value and all(_is_node(v) for v in value):
                items = tuple(done[id(v)] for v in value)
                if any(a is not b for a, b in zip(items, value, strict=True)):
                    changes[f.name] = items
        return dataclasses.replace(node, **changes) if changes else node


_NODES = typing.get_args(ir.TExpr)


def _is_node(value: object) -> bool:
    return isinstance(value, _NODES)
