"""Which way a compiled condition moves as a contact's events accumulate: the basis of
settling contacts in a history by transitions (transitions.py).

A condition is **rising** (+1) when its truth never falls as the aggregates it reads grow —
false < unknown < true, the order in which `and`, `or` and `COALESCE(…, FALSE)` are
monotone — **falling** (-1) when it never rises, constant (0) when it reads no aggregate,
and unknown (None) otherwise. A count only grows; a sum grows while the events added hold
no negative value (the caller checks that in the data, per contact). `count(orders) >= 5
and sum(orders.amount) > 1000` rises: once a contact is in it, later orders cannot take
it out, so a history need not follow that contact past its first point."""

from __future__ import annotations

from typing import Any

__all__ = ["direction"]


def direction(node: Any, table: str, grows: dict[str, bool]) -> int | None:
    """+1, -1, 0 or None for the sqlglot condition ``node``, whose aggregates are the
    columns of ``table`` named in ``grows`` (each never decreasing; True where it is never
    null, so that it may be compared bare)."""
    from sqlglot import exp

    def reads(n: Any) -> bool:
        return any(col.table == table for col in n.find_all(exp.Column))

    def combine(*dirs: int | None) -> int | None:
        if any(d is None for d in dirs):
            return None
        moving = {d for d in dirs if d}
        return moving.pop() if len(moving) == 1 else (0 if not moving else None)

    def flip(d: int | None) -> int | None:
        return None if d is None else -d

    def walk(n: Any) -> int | None:
        if not reads(n):
            return 0
        match n:
            case exp.Column() if n.name in grows:
                # a null sum becoming a value may fall: compared bare only if never null
                return 1 if grows[n.name] else None
            case exp.Paren():
                return walk(n.this)
            case exp.Coalesce() if len(n.expressions) == 1 and not reads(n.expressions[0]):
                default, this = n.expressions[0], n.this
                while isinstance(this, exp.Paren):
                    this = this.this
                if isinstance(default, exp.Boolean) or isinstance(
                    this, exp.Predicate | exp.Connector | exp.Not
                ):  # a truth (SQLite's FALSE is 0), unknown read as a constant: monotone
                    return walk(n.this)
                zero = isinstance(default, exp.Literal) and default.name in ("0", "0.0")
                if zero and isinstance(n.this, exp.Column) and n.this.name in grows:
                    return 1  # no events: 0, below any count or sum of non-negatives
                return None
            case exp.And() | exp.Or():
                return combine(walk(n.this), walk(n.expression))
            case exp.Not():
                return flip(walk(n.this))
            case exp.GT() | exp.GTE():
                return combine(walk(n.this), flip(walk(n.expression)))
            case exp.LT() | exp.LTE():
                return combine(flip(walk(n.this)), walk(n.expression))
            case exp.Add():
                return combine(walk(n.this), walk(n.expression))
            case exp.Sub():
                return combine(walk(n.this), flip(walk(n.expression)))
            case exp.Neg():
                return flip(walk(n.this))
            case _:
                return None

    return walk(node)
