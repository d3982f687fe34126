"""``has E where F > X …``, X read from the contact, as E's largest F compared with X.

Such an event exists exactly when the largest F among the events the rest of the
condition keeps is greater than X (``>=``: at least; ``<`` and ``<=``: the smallest F).
Nulls agree: MAX skips a null F, as the comparison finds it unknown; a null X or no such
event leaves the test unknown, and ``has`` false. The largest F is an aggregate that no
longer reads the contact — a grouped query over the events alone, where the condition as
written joined every event in the window to its contact's values (the batch's
``above_own_average``: 0.06 s less of 0.8 s, docs/performance.md).

Only where F is an integer, decimal, date or timestamp field of the event: a float may be
NaN, which engines do not all order as they compare it.
"""

from segql.backends.sql.plan import conjunction, conjuncts, reads_contact, reads_event
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.lang.ast import FLIPPED, CmpOp

ORDERED = (Type.INTEGER, Type.DECIMAL, Type.DATE, Type.TIMESTAMP)
# F op X, with F on the left: the aggregate that decides it
EXTREME = {
    CmpOp.GT: ir.AggFunc.MAX,
    CmpOp.GE: ir.AggFunc.MAX,
    CmpOp.LT: ir.AggFunc.MIN,
    CmpOp.LE: ir.AggFunc.MIN,
}


def extreme(node: ir.Exists) -> tuple[ir.Agg, CmpOp, ir.TExpr] | None:
    """``(agg, op, X)`` with ``has …`` equal to ``coalesce(agg op X, false)``, agg reading
    only the event, or None when the condition is not one ordered comparison of an event
    field with a value of the contact, `and`-ed with conditions on the event alone."""
    if node.where is None:
        return None
    parts = conjuncts(node.where)
    reading = [p for p in parts if reads_contact(p)]
    if len(reading) != 1 or not isinstance(c := reading[0], ir.Compare):
        return None
    for f, x, op in ((c.left, c.right, c.op), (c.right, c.left, FLIPPED[c.op])):
        if (
            op in EXTREME
            and isinstance(f, ir.EventField)
            and f.stream == node.stream
            and f.type in ORDERED
            and not reads_event(x)
        ):
            agg = ir.Agg(
                func=EXTREME[op],
                stream=node.stream,
                column=f.column,
                where=conjunction(tuple(p for p in parts if p is not c)),
                within=node.within,
                type=f.type,
                span=node.span,
            )
            return agg, op, x
    return None
