"""``top P% by x`` in a batch, as a test of x against one threshold, not a rank per contact.

A contact is in the top P% when ``(rank - 1) * 100 >= (100 - P) * (n - 1)`` (ir.TopPercent),
rank - 1 being how many of the n contacts with a value have a smaller one. That count only
grows with x, so the members are those whose x is at least the smallest value that passes:
one number, computed over the distinct values (how many contacts have each, summed in
order), compared with each contact's x where it is read. The rank per contact needs a
window over every contact and a CTE joined to every contact on its key.

Only in a batch (the batch's query joins x's passes to every contact anyway: its
``top 10% by total_spent`` 0.09 s less of 0.8 s on 1M contacts), and only on engines that
keep a CTE read twice. Alone, the window is as fast or faster (0.29 s against 0.31 s), and
Spark and ClickHouse would compute a stream's pass once more (docs/performance.md).
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from segql.backends.sql.plan import ENTITY, EXACT, Scope, never_null
from segql.ir import nodes as ir

if TYPE_CHECKING:
    from segql.backends.sql.expressions import ExpressionCompiler


def top_percent(c: "ExpressionCompiler", node: ir.TopPercent, stream: str | None) -> Any:
    """``COALESCE(x >= (SELECT v FROM segql_pN), FALSE)`` (null where x is): ``segql_pN``
    holds the smallest value whose rank passes, none when no value does (all tied, or a
    single contact with P < 100)."""
    exp = c.exp
    shape = c.shapes[node]
    outer = c.scope
    alias = c.window_aliases.get(shape)
    if alias is None:
        c.scope = scope = Scope()
        try:
            query = _threshold(c, node)
        finally:
            c.scope = outer
        order = (c._level(scope) - 1, 1, len(c.order))
        alias = c._derive(c.window_aliases, "p", shape, query, order, outer)
        c.scalars.add(alias)  # read by a scalar subquery, never joined (_join skips it)
    else:
        outer.derived.add(alias)  # (in scope for its order only)
    x = c.operand(node.operand, stream)
    threshold = exp.Subquery(
        this=exp.select(c.col("v", alias), copy=False).from_(
            exp.Table(this=c.ident(alias), alias=exp.TableAlias(this=c.ident(alias))),
            copy=False,
        )
    )
    test = exp.Coalesce(
        this=exp.Paren(this=exp.GTE(this=x, expression=threshold)),
        expressions=[c.p.false()],
    )
    if never_null(node.operand):
        return test
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=x.copy(), expression=exp.null()), true=exp.null())],
        default=test,
    )


def _threshold(c: "ExpressionCompiler", node: ir.TopPercent) -> Any:
    """``SELECT MIN(v)`` of the distinct values whose rank passes, over the contacts with
    a value: ``b`` (contacts with a smaller value) and ``n`` are sums of the counts."""
    exp = c.exp
    lit = exp.Literal.number
    ent = c.schema.entity

    def col(name: str) -> Any:
        return exp.Column(this=c.ident(name))

    def named(e: Any, name: str) -> Any:
        return exp.alias_(e, name, quoted=True, copy=False)

    def over(q: Any, name: str) -> Any:
        return exp.Subquery(this=q, alias=exp.TableAlias(this=c.ident(name)))

    x = c.expr(node.operand, None)
    values = exp.select(named(x, "v"), copy=False).from_(c.table(ent.source, ENTITY), copy=False)
    values = c._join_aggs(values, only=c.scope.streams)
    values = c._join_derived(values, c.scope)
    c._fits(values)
    if not never_null(node.operand):
        values = values.where(exp.Not(this=exp.Is(this=x.copy(), expression=exp.null())))
    counted = (
        exp.select(col("v"), named(exp.Count(this=exp.Star()), "c"), copy=False)
        .from_(over(values, "x"), copy=False)
        .group_by(col("v"), copy=False)
    )
    below = exp.Sub(
        this=exp.Window(
            this=exp.Sum(this=col("c")),
            order=exp.Order(expressions=[exp.Ordered(this=col("v"))]),
        ),
        expression=col("c"),
    )
    ranked = exp.select(
        col("v"), named(below, "b"), named(exp.Window(this=exp.Sum(this=col("c"))), "n")
    ).from_(over(counted, "g"), copy=False)
    need = EXACT.subtract(Decimal(100), node.percent)  # not the thread's 28 digits
    passes: Any = exp.GTE(
        this=exp.Mul(this=col("b"), expression=lit(100)),
        expression=exp.Mul(
            this=lit(format(need, "f")),
            expression=exp.Paren(this=exp.Sub(this=col("n"), expression=lit(1))),
        ),
    )
    if need > 0:  # a single contact is in the top P% only for P = 100
        passes = exp.and_(passes, exp.GT(this=col("n"), expression=lit(1)), copy=False)
    return (
        exp.select(named(exp.Min(this=col("v")), "v"))
        .from_(over(ranked, "r"), copy=False)
        .where(passes, copy=False)
    )
