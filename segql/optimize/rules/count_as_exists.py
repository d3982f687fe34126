"""``count(E …) >= 1`` → ``has E …``: a semi join instead of counting every event."""

from __future__ import annotations

from segql.ir import nodes as ir
from segql.lang.ast import COMPARE, FLIPPED


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
