"""Applying rules bottom-up over the typed DAG, each shared node rewritten once."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from segql.ir import dag
from segql.ir import nodes as ir
from segql.optimize.rules import RULES, Rule


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
