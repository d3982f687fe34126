"""The dispatch from each syntax node to the part of the checker that types it."""

from __future__ import annotations

import datetime as dt

from segql.checker.aggregates import _aggregate, _has, _in_segment
from segql.checker.calls import _call, _top
from segql.checker.context import (
    _DECIMAL_DIGITS,
    _INT64_MAX,
    _a,
    _Ctx,
    _decimal_digits,
    _describe,
    _dur,
    _num,
    _numeric_or_null,
    _short,
    _to_ts,
    _within_hint,
)
from segql.checker.names import _name
from segql.checker.operators import _arith, _between, _bool, _compare, _in_list, _match
from segql.core.diagnostics import (
    CheckError,
)
from segql.core.text import unsafe_char
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc
from segql.lang import ast as a
from segql.lang.formatter import format_expr


def _expr(ctx: _Ctx, e: a.Expr) -> ir.TExpr | None:
    match e:
        case a.IntLit(value=v):
            if v > _INT64_MAX:
                ctx.error(
                    "out-of-range",
                    f"`{_short(str(v))}` is too large: integers are 64-bit on every engine "
                    f"(at most {_INT64_MAX:,})",
                    e.span,
                    "write it as a decimal (`….0`) if you need a larger number",
                )
                return None
            return ir.Lit(value=v, type=Type.INTEGER, span=e.span)
        case a.DecimalLit(value=v):
            digits = _decimal_digits(v)
            if digits > _DECIMAL_DIGITS:
                ctx.error(
                    "out-of-range",
                    f"`{_short(format_expr(e))}` has {digits:,} digits; decimals have at most "
                    f"{_DECIMAL_DIGITS}, what DECIMAL(38) holds exactly on every engine",
                    e.span,
                    "drop digits that do not matter, or use a float field for very large or "
                    "very small values",
                )
                return None
            return ir.Lit(value=v, type=Type.DECIMAL, span=e.span)
        case a.StringLit(value=v):
            bad = unsafe_char(v)
            if bad is not None:
                ctx.error(
                    "invalid-character",
                    f"this string contains {bad}, which SQL text cannot carry",
                    e.span,
                    "remove it; NUL and lone surrogates are not characters engines store",
                )
                return None
            return ir.Lit(value=v, type=Type.STRING, span=e.span)
        case a.BoolLit(value=v):
            return ir.Lit(value=v, type=Type.BOOLEAN, span=e.span)
        case a.NullLit():
            return ir.Lit(value=None, type=Type.NULL, span=e.span)
        case a.DateLit(value=v):
            try:
                timecalc.date_to_timestamp(v, ctx.schema.tz, e.span)
            except CheckError as err:
                ctx.diags.extend(err.diagnostics)
                return None
            return ir.Lit(value=v, type=Type.DATE, span=e.span)
        case a.TimestampLit(value=v):
            tz = ctx.schema.tz
            if v.tzinfo is None:
                v = v.replace(tzinfo=tz)
            try:
                utc = v.astimezone(dt.UTC)
                utc.astimezone(tz)  # its wall-clock time in the schema zone exists too
            except (OverflowError, ValueError):
                ctx.error(
                    "out-of-range",
                    f"`{format_expr(e)}` is outside the times segql handles",
                    e.span,
                    timecalc.RANGE_TEXT,
                )
                return None
            return ir.Lit(value=utc, type=Type.TIMESTAMP, span=e.span)
        case a.DurationLit():
            ctx.error(
                "misplaced-duration",
                f"a duration like `{format_expr(e)}` can only be compared with a date or "
                "timestamp, or used with `within` and `ago`",
                e.span,
                f"e.g. `last_order < {format_expr(e)}` (less than {format_expr(e)} ago) or "
                f"`signup_at > {format_expr(e)} ago`",
            )
            return None
        case a.ListLit():
            ctx.error(
                "misplaced-list",
                "a list can only follow `in`, `not in`, `contains any` or `contains all`",
                e.span,
                "e.g. `country in ['DE', 'AT']`",
            )
            return None
        case a.Name():
            for part in e.parts:
                bad = unsafe_char(part)
                if bad is not None:
                    ctx.error(
                        "invalid-character",
                        f"this name contains {bad}, which SQL text cannot carry",
                        e.span,
                    )
                    return None
            return _name(ctx, e)
        case a.Now():
            return ir.Now(span=e.span)
        case a.Today():
            return ir.Today(span=e.span)
        case a.Ago(duration=d):
            return ir.Ago(duration=_dur(ctx, d), span=e.span)
        case a.Neg(operand=o):
            x = _expr(ctx, o)
            if x is None:
                return None
            if not _numeric_or_null(x):
                ctx.error(
                    "type-mismatch",
                    f"`-` needs a number, but {_describe(o)} is {_a(x.type)}",
                    e.span,
                )
                return None
            return ir.Neg(operand=x, type=_num(x.type), span=e.span)
        case a.Not(operand=o):
            x = _bool(ctx, o, "not")
            return None if x is None else ir.Not(operand=x, span=e.span)
        case a.BoolOp(op=op, operands=ops):
            outs = [_bool(ctx, o, op.value) for o in ops]
            if any(x is None for x in outs):
                return None
            return ir.BoolOp(op=op, operands=tuple(x for x in outs if x is not None), span=e.span)
        case a.Arith():
            return _arith(ctx, e)
        case a.Compare():
            return _compare(ctx, e)
        case a.Between():
            return _between(ctx, e)
        case a.InList():
            return _in_list(ctx, e)
        case a.IsNull(operand=o, negated=neg):
            x = _expr(ctx, o)
            return None if x is None else ir.IsNull(operand=x, negated=neg, span=e.span)
        case a.Match():
            return _match(ctx, e)
        case a.Within(operand=o, duration=d):
            x = _expr(ctx, o)
            if x is None:
                return None
            if not x.type.is_temporal and x.type is not Type.NULL:
                ctx.error(
                    "type-mismatch",
                    f"`within` needs a date or timestamp, but {_describe(o)} is {_a(x.type)}",
                    o.span,
                    *(_within_hint(x)),
                )
                return None
            return ir.Within(operand=_to_ts(x), duration=_dur(ctx, d), span=e.span)
        case a.Call():
            return _call(ctx, e)
        case a.Aggregate():
            return _aggregate(ctx, e)
        case a.Has():
            return _has(ctx, e)
        case a.InSegment(name=n):
            return _in_segment(ctx, e, n)
        case a.Top():
            return _top(ctx, e)
    raise AssertionError(f"unhandled node {e!r}")  # pragma: no cover
