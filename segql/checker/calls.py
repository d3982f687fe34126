"""Scalar function calls (declared in segql.lang.functions), `percentile` and `top`."""

from __future__ import annotations

from decimal import Decimal
from typing import assert_never

from segql.checker.context import (
    _ALL_FUNCS,
    _DECIMAL_DIGITS,
    _FUNCS,
    _ROUND_DIGITS,
    _WIDE,
    _a,
    _Ctx,
    _decimal_digits,
    _describe,
    _did_you_mean,
    _num,
    _short,
    _to_ts,
)
from segql.checker.operators import _unify
from segql.core.types import Type, common_numeric
from segql.ir import nodes as ir
from segql.lang import ast as a
from segql.lang.formatter import format_expr
from segql.lang.functions import FUNCTIONS, ArgKind, Returns

# The result type of a function whose type does not depend on its arguments.
FIXED_RETURNS = {
    Returns.STRING: Type.STRING,
    Returns.INTEGER: Type.INTEGER,
    Returns.FLOAT: Type.FLOAT,
    Returns.DATE: Type.DATE,
    Returns.TIMESTAMP: Type.TIMESTAMP,
}


def _call(ctx: _Ctx, e: a.Call) -> ir.TExpr | None:
    name = e.func
    if name in ("percentile", "ntile"):
        return _percentile(ctx, e)
    if name == "reachable_by":
        from segql.checker.channels import reachable_by

        return reachable_by(ctx, e)
    func = _FUNCS.get(name)
    if func is None:
        ctx.error(
            "unknown-function",
            f"unknown function `{name}`",
            e.span,
            *(_did_you_mean(name, _ALL_FUNCS) or ("functions: " + ", ".join(_ALL_FUNCS),)),
        )
        return None
    decl = FUNCTIONS[name]
    args = [ctx.expr(x) for x in e.args]
    if any(x is None for x in args):
        return None
    targs = [x for x in args if x is not None]
    lo, hi = decl.min_args, decl.max_args
    if len(targs) < lo or (hi is not None and len(targs) > hi):
        want = str(lo) if lo == hi else f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        ctx.error(
            "wrong-arguments",
            f"`{name}` takes {want} argument{'s' if hi != 1 else ''}, not {len(targs)}",
            e.span,
        )
        return None
    for i, (arg, t) in enumerate(zip(e.args, targs, strict=True)):
        kind = decl.params[min(i, len(decl.params) - 1)]
        if kind is ArgKind.DIGITS:
            if not _digits(ctx, name, arg):
                return None
        elif kind is ArgKind.SALT:
            if not _salt(ctx, name, arg):
                return None
        elif t.type is not Type.NULL and not _fits(kind, t.type):
            ctx.error(
                "type-mismatch",
                f"`{name}` needs {kind.value}, but {_describe(arg)} is {_a(t.type)}",
                arg.span,
            )
            return None
    match decl.returns:
        case Returns.STRING | Returns.INTEGER | Returns.FLOAT | Returns.DATE | Returns.TIMESTAMP:
            rtype = FIXED_RETURNS[decl.returns]
        case Returns.NUMERIC_OF_FIRST:
            rtype = _num(targs[0].type)
        case Returns.COMMON:
            got = _unify(ctx, name, list(zip(e.args, targs, strict=True)), e.span, ordered=False)
            if got is None:
                return None
            targs = list(got)
            rtype = _common(targs)
        case _:
            assert_never(decl.returns)
    if func is ir.FuncName.BUCKET:
        if ctx.stream is not None:
            ctx.error(
                "wrong-scope",
                "`bucket` places the contact, not an event: it cannot be used inside an "
                "event condition",
                e.span,
            )
            return None
        targs.append(_key(ctx))
    return ir.Func(func=func, args=tuple(targs), type=rtype, span=e.span)


def _key(ctx: _Ctx) -> ir.TExpr:
    """The contact's key, as the value `bucket` hashes."""
    entity = ctx.schema.entity
    declared = entity.fields.get(entity.key)
    t = declared.type if declared is not None else Type.INTEGER
    return ir.Field(name=entity.key, column=entity.key, type=t)


def _salt(ctx: _Ctx, name: str, arg: a.Expr) -> bool:
    """A salt is a string written in the expression: the same text, the same buckets."""
    if isinstance(arg, a.StringLit):
        return True
    ctx.error(
        "wrong-arguments",
        f"the salt of `{name}` must be a string written in the expression",
        arg.span,
        f"e.g. `{name}('spring-sale-2026') < 5000`: each salt splits the contacts anew",
    )
    return False


def _fits(kind: ArgKind, t: Type) -> bool:
    match kind:
        case ArgKind.STRING:
            return t is Type.STRING
        case ArgKind.NUMBER:
            return t.is_numeric
        case ArgKind.STRING_OR_LIST:
            return t is Type.STRING or t.is_list
        case ArgKind.TEMPORAL:
            return t.is_temporal
        case ArgKind.ANY | ArgKind.DIGITS | ArgKind.SALT | ArgKind.CHANNEL:
            return True
        case _:
            assert_never(kind)


def _digits(ctx: _Ctx, name: str, arg: a.Expr) -> bool:
    """A digits argument (``round``'s n) is a whole number written in the expression,
    within what every engine rounds exactly."""
    digits = _constant_int(arg)
    if digits is None:
        ctx.error(
            "wrong-arguments",
            f"the number of digits for `{name}` must be a whole number like `2`",
            arg.span,
            f"write the number itself, e.g. `{name}(x, 2)` or `{name}(x, -3)`",
        )
        return False
    if not -_ROUND_DIGITS <= digits <= _ROUND_DIGITS:
        ctx.error(
            "out-of-range",
            f"`{name}` takes from {-_ROUND_DIGITS} to {_ROUND_DIGITS} digits, not "
            f"{_short(str(digits))}",
            arg.span,
            "18 digits either side of the point cover every 64-bit integer and DECIMAL(18) value",
        )
        return False
    return True


def _common(args: list[ir.TExpr]) -> Type:
    """The type of ``coalesce`` over unified arguments."""
    types = {t.type for t in args if t.type is not Type.NULL}
    if not types:
        return Type.NULL
    if all(t.is_numeric for t in types):
        rtype = Type.INTEGER
        for t in types:
            rtype = common_numeric(rtype, t)
        return rtype
    if types == {Type.DATE}:
        return Type.DATE
    if Type.TIMESTAMP in types:
        return Type.TIMESTAMP
    (only,) = types
    return only


def _constant_int(e: a.Expr) -> int | None:
    """The value of an integer literal, or of a negated one; None for anything else."""
    if isinstance(e, a.IntLit):
        return e.value
    if isinstance(e, a.Neg) and isinstance(e.operand, a.IntLit):
        return -e.operand.value
    return None


MAX_TILES = 1_000_000


def _percentile(ctx: _Ctx, e: a.Call) -> ir.TExpr | None:
    """`percentile(x)` and `ntile(x, n)`: where a contact stands among all contacts."""
    name = e.func
    want = 1 if name == "percentile" else 2
    if len(e.args) != want:
        ctx.error(
            "wrong-arguments",
            f"`{name}` takes {want} argument{'s' if want > 1 else ''}, not {len(e.args)}",
            e.span,
            *(("e.g. `ntile(total_spent, 5) = 5`: the top fifth",) if name == "ntile" else ()),
        )
        return None
    if ctx.stream is not None:
        ctx.error(
            "wrong-scope",
            f"`{name}` ranks contacts; it cannot be used inside an event condition",
            e.span,
        )
        return None
    tiles: int | None = None
    if name == "ntile":
        tiles = _constant_int(e.args[1])
        if tiles is None:
            ctx.error(
                "wrong-arguments",
                "the number of groups for `ntile` must be a whole number like `5`",
                e.args[1].span,
            )
            return None
        if not 1 <= tiles <= MAX_TILES:
            ctx.error(
                "out-of-range",
                f"`ntile` makes from 1 to {MAX_TILES:,} groups, not {_short(str(tiles))}",
                e.args[1].span,
            )
            return None
    x = ctx.expr(e.args[0])
    if x is None:
        return None
    if not (x.type.is_numeric or x.type.is_temporal):
        ctx.error(
            "type-mismatch",
            f"`{name}` needs a number, date or timestamp, but {_describe(e.args[0])} is "
            f"{_a(x.type)}",
            e.args[0].span,
        )
        return None
    if tiles is not None:
        return ir.Percentile(operand=_to_ts(x), tiles=tiles, type=Type.INTEGER, span=e.span)
    return ir.Percentile(operand=_to_ts(x), span=e.span)


def _top(ctx: _Ctx, e: a.Top) -> ir.TExpr | None:
    pct = Decimal(e.percent.value)
    if not (0 < pct <= 100):
        ctx.error(
            "bad-percent",
            f"`top {format_expr(e.percent)}%` must be more than 0% and at most 100%",
            e.percent.span,
        )
        return None
    if ctx.expr(e.percent) is None:  # the literal's range: exact on every engine
        return None
    rest = _WIDE.subtract(Decimal(100), pct)
    if _decimal_digits(rest) > _DECIMAL_DIGITS:
        # `top P%` compares ranks with 100 - P in SQL: that number must be exact too.
        ctx.error(
            "out-of-range",
            f"`top {_short(format_expr(e.percent))}%` has too many decimals: 100 minus it "
            f"needs {_decimal_digits(rest)} digits, and decimals have at most {_DECIMAL_DIGITS}",
            e.percent.span,
            "drop decimals that do not matter",
        )
        return None
    if ctx.stream is not None:
        ctx.error("wrong-scope", "`top … by` ranks contacts, not events", e.span)
        return None
    x = ctx.expr(e.by)
    if x is None:
        return None
    if not (x.type.is_numeric or x.type.is_temporal):
        ctx.error(
            "type-mismatch",
            f"`top … by` needs a number, date or timestamp, but {_describe(e.by)} is {_a(x.type)}",
            e.by.span,
        )
        return None
    return ir.TopPercent(percent=pct, operand=_to_ts(x), span=e.span)
