"""Boolean, arithmetic and comparison operators, `between`, `in [...]`, string matches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from segql.checker.context import (
    _FLIP,
    _a,
    _boolean_hint,
    _Ctx,
    _describe,
    _dur,
    _num,
    _numeric_or_null,
    _suggest,
    _to_ts,
)
from segql.core.diagnostics import (
    Span,
)
from segql.core.types import Type, common_numeric
from segql.ir import nodes as ir
from segql.lang import ast as a
from segql.lang.formatter import format_expr


def _bool(ctx: _Ctx, e: a.Expr, op: str) -> ir.TExpr | None:
    x = ctx.expr(e)
    if x is None:
        return None
    if x.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "type-mismatch",
            f"`{op}` needs conditions, but {_describe(e)} is {_a(x.type)}",
            e.span,
            *_boolean_hint(x.type),
        )
        return None
    return x


def _shift(ctx: _Ctx, e: a.Arith) -> ir.TExpr | None:
    """``t + D``, ``D + t``, ``t - D``: a time moved by a duration (CONTRACT §5.2)."""
    moved, dur = (e.left, e.right) if isinstance(e.right, a.DurationLit) else (e.right, e.left)
    assert isinstance(dur, a.DurationLit)
    if isinstance(moved, a.DurationLit) or (e.op is a.ArithOp.SUB and moved is e.right):
        ctx.error(
            "type-mismatch",
            f"`{format_expr(e)}`: a duration can be added to or subtracted from a date or "
            "timestamp, not the other way round",
            e.span,
            "e.g. `today - 1d` or `signup_at + 30d`",
        )
        return None
    if e.op not in (a.ArithOp.ADD, a.ArithOp.SUB):
        ctx.error(
            "type-mismatch",
            f"`{e.op.value}` does not apply to a duration; a time takes `+` or `-` a duration",
            e.span,
        )
        return None
    x = ctx.expr(moved)
    if x is None:
        return None
    if not x.type.is_temporal and x.type is not Type.NULL:
        ctx.error(
            "type-mismatch",
            f"`{e.op.value} {format_expr(dur)}` moves a date or timestamp, but "
            f"{_describe(moved)} is {_a(x.type)}",
            moved.span,
        )
        return None
    return ir.Shift(
        operand=_to_ts(x), duration=_dur(ctx, dur), back=e.op is a.ArithOp.SUB, span=e.span
    )


def _arith(ctx: _Ctx, e: a.Arith) -> ir.TExpr | None:
    if isinstance(e.right, a.DurationLit) or isinstance(e.left, a.DurationLit):
        return _shift(ctx, e)
    x = ctx.expr(e.left)
    y = ctx.expr(e.right)
    if x is None or y is None:
        return None
    for side, t in ((e.left, x), (e.right, y)):
        if not _numeric_or_null(t):
            hints: tuple[str, ...] = ()
            if t.type.is_temporal:
                hints = (
                    "a time takes `+` or `-` a duration (`today - 1d`), and a difference of "
                    "two times compares with a duration (`last(orders) - first(orders) > 180d`)",
                )
            elif t.type is Type.STRING and e.op is a.ArithOp.ADD:
                hints = ("segql has no string concatenation",)
            ctx.error(
                "type-mismatch",
                f"`{e.op.value}` needs numbers, but {_describe(side)} is {_a(t.type)}",
                side.span,
                *hints,
            )
            return None
    result = Type.FLOAT if e.op is a.ArithOp.DIV else common_numeric(_num(x.type), _num(y.type))
    return ir.Arith(op=e.op, left=x, right=y, type=result, span=e.span)


def _unify(
    ctx: _Ctx,
    what: str,
    pairs: Sequence[tuple[a.Expr, ir.TExpr]],
    span: Span,
    *,
    ordered: bool,
) -> list[ir.TExpr] | None:
    """Bring operands to one comparable type (widening), or report a mismatch."""
    types = {t.type for _, t in pairs if t.type is not Type.NULL}
    if not types:
        return [t for _, t in pairs]
    if all(t.is_numeric for t in types):
        return [t for _, t in pairs]
    if types <= {Type.DATE, Type.TIMESTAMP}:
        if len(types) == 2:
            return [_to_ts(t) for _, t in pairs]
        return [t for _, t in pairs]
    if len(types) == 1:
        (only,) = types
        if only.is_list:
            ctx.error(
                "type-mismatch",
                f"lists cannot be compared with {what}",
                span,
                "test elements with `contains`, e.g. `tags contains 'vip'`",
            )
            return None
        if ordered and only is Type.BOOLEAN:
            ctx.error(
                "type-mismatch",
                "true and false have no order; compare booleans with `=` or `!=`",
                span,
            )
            return None
        return [t for _, t in pairs]
    # A mismatch: name the first two different sides.
    first_e, first = next((s, t) for s, t in pairs if t.type is not Type.NULL)
    other_e, other = next(
        (s, t) for s, t in pairs if t.type is not Type.NULL and t.type is not first.type
    )
    hints = _mismatch_hints(first, other_e) or _mismatch_hints(other, first_e)
    message = (
        f"cannot compare {_describe(first_e)} ({first.type}) with {_describe(other_e)} "
        f"({other.type})"
        if what != "coalesce"
        else f"`coalesce` needs values of one type, but {_describe(first_e)} is "
        f"{_a(first.type)} and {_describe(other_e)} is {_a(other.type)}"
    )
    ctx.error(
        "type-mismatch",
        message,
        other_e.span,
        *hints,
    )
    return None


def _mismatch_hints(target: ir.TExpr, e: a.Expr) -> tuple[str, ...]:
    if target.type.is_temporal and isinstance(e, a.IntLit):
        return (
            f"did you mean `{e.value}d`? (a duration compares the age: less than "
            f"{e.value} days ago)",
        )
    if target.type.is_temporal and isinstance(e, a.StringLit):
        try:
            dt.date.fromisoformat(e.value)
            return (f"write the date without quotes: {e.value}",)
        except ValueError:
            try:
                dt.datetime.fromisoformat(e.value)
                return (f"write the timestamp without quotes: {e.value}",)
            except ValueError:
                return ()
    if target.type is Type.STRING and isinstance(e, a.IntLit | a.DecimalLit):
        return (f"quote it if you mean the text: '{format_expr(e)}'",)
    if target.type.is_numeric and isinstance(e, a.StringLit):
        try:
            Decimal(e.value)
            return (f"remove the quotes to compare numbers: {e.value}",)
        except ArithmeticError:
            return ()
    if target.type is Type.BOOLEAN and isinstance(e, a.StringLit | a.IntLit):
        return ("write `true` or `false`",)
    return ()


def _compare(ctx: _Ctx, e: a.Compare) -> ir.TExpr | None:
    left, right, op = e.left, e.right, e.op
    if isinstance(left, a.DurationLit) and not isinstance(right, a.DurationLit):
        left, right, op = right, left, _FLIP[op]
    if isinstance(right, a.DurationLit):
        if isinstance(left, a.Arith) and left.op is a.ArithOp.SUB:
            diff = _difference(ctx, e, left, op, right)
            if diff is None or not isinstance(diff, bool):
                return diff
        return _age_compare(ctx, e, left, op, right)
    x = ctx.expr(left)
    y = ctx.expr(right)
    if x is None or y is None:
        return None
    if Type.NULL in (x.type, y.type):
        ctx.warn(
            "null-comparison",
            f"comparing with null is never true: {_describe(e)} is always unknown",
            e.span,
            "use `is null` or `is not null` to test for a missing value",
        )
    ordered = op not in (a.CmpOp.EQ, a.CmpOp.NE)
    got = _unify(ctx, f"`{op.value}`", [(left, x), (right, y)], e.span, ordered=ordered)
    if got is None:
        return None
    lx, ry = got
    _enum_check(ctx, x, right, y)
    _enum_check(ctx, y, left, x)
    return ir.Compare(op=op, left=lx, right=ry, span=e.span)


def _difference(
    ctx: _Ctx, e: a.Compare, diff: a.Arith, op: a.CmpOp, dur: a.DurationLit
) -> ir.TExpr | bool | None:
    """``a - b OP D`` for two times is ``a OP b + D`` (CONTRACT §5.2: a difference of times
    compares with durations, by the same calendar as ``b + D``); False: not two times."""
    if isinstance(diff.left, a.DurationLit) or isinstance(diff.right, a.DurationLit):
        return False
    x = ctx.expr(diff.left)
    y = ctx.expr(diff.right)
    if x is None or y is None:
        return None
    if not (x.type.is_temporal and y.type.is_temporal):
        return False
    later = ir.Shift(operand=_to_ts(y), duration=_dur(ctx, dur), back=False, span=e.span)
    return ir.Compare(op=op, left=_to_ts(x), right=later, span=e.span)


def _age_compare(
    ctx: _Ctx, e: a.Compare, operand: a.Expr, op: a.CmpOp, dur: a.DurationLit
) -> ir.TExpr | None:
    x = ctx.expr(operand)
    if x is None:
        return None
    if not x.type.is_temporal and x.type is not Type.NULL:
        ctx.error(
            "type-mismatch",
            f"a duration compares the age of a date or timestamp, but {_describe(operand)} "
            f"is {_a(x.type)}",
            e.span,
            *(
                (f"compare numbers with numbers: `{format_expr(operand)} {op.value} {dur.amount}`",)
                if x.type.is_numeric
                else ()
            ),
        )
        return None
    if op in (a.CmpOp.EQ, a.CmpOp.NE):
        ctx.error(
            "type-mismatch",
            f"ages can only be compared with `<`, `<=`, `>` or `>=`, not `{op.value}`",
            e.span,
            f"e.g. `{format_expr(operand)} within {format_expr(dur)}`",
        )
        return None
    # Age < D  <=>  value > as_of - D (and so on): the younger, the later.
    return ir.Compare(
        op=_FLIP[op],
        left=_to_ts(x),
        right=ir.Ago(duration=_dur(ctx, dur), span=dur.span),
        span=e.span,
    )


def _between(ctx: _Ctx, e: a.Between) -> ir.TExpr | None:
    if isinstance(e.low, a.DurationLit) and isinstance(e.high, a.DurationLit):
        # An age range: `last_order between 30d and 90d` = between 90d ago and 30d ago.
        x = ctx.expr(e.operand)
        if x is None:
            return None
        if not x.type.is_temporal and x.type is not Type.NULL:
            ctx.error(
                "type-mismatch",
                f"an age range needs a date or timestamp, but {_describe(e.operand)} is "
                f"{_a(x.type)}",
                e.operand.span,
            )
            return None
        return ir.Between(
            operand=_to_ts(x),
            low=ir.Ago(duration=_dur(ctx, e.high), span=e.high.span),
            high=ir.Ago(duration=_dur(ctx, e.low), span=e.low.span),
            span=e.span,
        )
    parts = [(s, ctx.expr(s)) for s in (e.operand, e.low, e.high)]
    if any(t is None for _, t in parts):
        return None
    pairs = [(s, t) for s, t in parts if t is not None]
    got = _unify(ctx, "`between`", pairs, e.span, ordered=True)
    if got is None:
        return None
    for (s, t), (_, other) in ((pairs[1], pairs[0]), (pairs[2], pairs[0])):
        _enum_check(ctx, other, s, t)
    return ir.Between(operand=got[0], low=got[1], high=got[2], span=e.span)


def _in_list(ctx: _Ctx, e: a.InList) -> ir.TExpr | None:
    x = ctx.expr(e.operand)
    items = [(s, ctx.expr(s)) for s in e.items]
    if x is None or any(t is None for _, t in items):
        return None
    pairs = [(e.operand, x), *((s, t) for s, t in items if t is not None)]
    got = _unify(ctx, "`in`", pairs, e.span, ordered=False)
    if got is None:
        return None
    for s, t in items:
        assert t is not None
        _enum_check(ctx, x, s, t)
        if t.type is Type.NULL:
            ctx.warn(
                "null-in-list",
                "`null` in a list never matches"
                + (" and makes `not in` unknown for every contact" if e.negated else ""),
                s.span,
                "use `is null` to test for missing values",
            )
    return ir.InList(operand=got[0], items=tuple(got[1:]), negated=e.negated, span=e.span)


def _enum_check(ctx: _Ctx, target: ir.TExpr, e: a.Expr, lit: ir.TExpr) -> None:
    """Warn when a string literal is not among a field's declared values."""
    if not isinstance(lit, ir.Lit) or not isinstance(lit.value, str):
        return
    if isinstance(target, ir.Field):
        fd = ctx.schema.entity.fields.get(target.name)
    elif isinstance(target, ir.EventField | ir.PriorField):
        fd = ctx.schema.streams[target.stream].fields.get(target.name)
    elif isinstance(target, ir.Classify):
        _class_check(ctx, target, e, lit.value)
        return
    else:
        return
    if fd is None or not fd.values or lit.value in fd.values:
        return
    hits = _suggest(lit.value, fd.values)
    hint = (
        "did you mean " + " or ".join(f"'{h}'" for h in hits) + "?"
        if hits
        else "known values: " + ", ".join(f"'{v}'" for v in fd.values[:12])
    )
    ctx.warn(
        "unknown-value",
        f"'{lit.value}' is not a known value of `{target.name}`",
        e.span,
        hint,
    )


def _contains_quantified(ctx: _Ctx, e: a.Match) -> ir.TExpr | None:
    """`L contains any [a, b]` is `L contains a or L contains b`; `all`: `and`."""
    word = e.op.value
    x = ctx.expr(e.left)
    if x is None:
        return None
    if not x.type.is_list and x.type is not Type.NULL:
        ctx.error(
            "type-mismatch",
            f"`{word}` needs a list on its left, but {_describe(e.left)} is {_a(x.type)}",
            e.left.span,
            "for text, combine `contains` tests with `or` / `and`",
        )
        return None
    assert isinstance(e.right, a.ListLit)  # the grammar's only right side
    if not e.right.items:
        ctx.error(
            "wrong-arguments",
            f"`{word} []` needs at least one item",
            e.right.span,
        )
        return None
    tests: list[ir.TExpr] = []
    for item in e.right.items:
        node = _match(ctx, a.Match(op=a.MatchOp.CONTAINS, left=e.left, right=item, span=e.span))
        if node is None:
            return None
        tests.append(node)
    if len(tests) == 1:
        return tests[0]
    kind = a.BoolOpKind.OR if e.op is a.MatchOp.CONTAINS_ANY else a.BoolOpKind.AND
    return ir.BoolOp(op=kind, operands=tuple(tests), span=e.span)


def _match(ctx: _Ctx, e: a.Match) -> ir.TExpr | None:
    if e.op in (a.MatchOp.CONTAINS_ANY, a.MatchOp.CONTAINS_ALL):
        return _contains_quantified(ctx, e)
    x = ctx.expr(e.left)
    y = ctx.expr(e.right)
    if x is None or y is None:
        return None
    word = e.op.value
    if e.op in (a.MatchOp.CONTAINS, a.MatchOp.NOT_CONTAINS) and x.type.is_list:
        elem = x.type.element
        if y.type is not Type.NULL and y.type is not elem:
            ctx.error(
                "type-mismatch",
                f"{_describe(e.left)} is a {x.type}, so `{word}` needs {_a(elem)}, but "
                f"{_describe(e.right)} is {_a(y.type)}",
                e.right.span,
            )
            return None
        _enum_check(ctx, x, e.right, y)
        node: ir.TExpr = ir.ListContains(list=x, item=y, span=e.span)
    else:
        for side, t in ((e.left, x), (e.right, y)):
            if t.type not in (Type.STRING, Type.NULL):
                ctx.error(
                    "type-mismatch",
                    f"`{word}` needs strings"
                    + (" or a list" if "contains" in word else "")
                    + f", but {_describe(side)} is {_a(t.type)}",
                    side.span,
                )
                return None
        op = {
            a.MatchOp.CONTAINS: ir.StrMatchOp.CONTAINS,
            a.MatchOp.NOT_CONTAINS: ir.StrMatchOp.CONTAINS,
            a.MatchOp.STARTS_WITH: ir.StrMatchOp.STARTS_WITH,
            a.MatchOp.ENDS_WITH: ir.StrMatchOp.ENDS_WITH,
        }[e.op]
        node = ir.StrMatch(op=op, left=x, right=y, span=e.span)
    if e.op is a.MatchOp.NOT_CONTAINS:
        return ir.Not(operand=node, span=e.span)
    return node


def _class_check(ctx: _Ctx, target: ir.Classify, e: a.Expr, value: str) -> None:
    """Warn when a string is none of a segmentation's classes (CONTRACT §6.1)."""
    known = (*target.names, *(() if target.otherwise is None else (target.otherwise,)))
    if value in known:
        return
    hits = _suggest(value, known)
    arm = target.segmentation in ctx.schema.experiments
    kind = "an arm" if arm else "a class"
    ctx.warn(
        "unknown-value",
        f"'{value}' is not {kind} of `{target.segmentation}`, so this is never true",
        e.span,
        *(("did you mean " + " or ".join(f"'{h}'" for h in hits) + "?",) if hits else ()),
        ("arms: " if arm else "classes: ") + ", ".join(known),
    )
