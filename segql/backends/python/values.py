"""SQL's values in Python: three-valued logic, exact decimal arithmetic with SQL's ranges,
rounding, and the errors for results no engine could represent."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from segql.backends.python.env import Fn, _Env, _naive, _show
from segql.core.diagnostics import (
    CheckError,
    Diagnostic,
    EngineError,
)
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc
from segql.lang.ast import COMPARE


def _and(fns: Sequence[Fn]) -> Fn:
    def f(env: _Env, ev: Any) -> Any:
        unknown = False
        for g in fns:
            v = g(env, ev)
            if v is False:
                return False
            if v is None:
                unknown = True
        return None if unknown else True

    return f


def _or(fns: Sequence[Fn]) -> Fn:
    def f(env: _Env, ev: Any) -> Any:
        unknown = False
        for g in fns:
            v = g(env, ev)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False

    return f


def _not(v: Any) -> Any:
    return None if v is None else not v


_CMP = COMPARE

# Decimal arithmetic is exact, as on DuckDB and PostgreSQL: it runs in this context, never
# the thread's (28 digits, silently rounded). A result needing more than 1,000 digits
# raises (Inexact is trapped) and becomes an `out-of-range` error, never a wrong value.
_EXACT = decimal.Context(
    prec=1000,
    rounding=decimal.ROUND_HALF_UP,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)
# Rounding (`round`) is inexact by design: halves away from zero, like SQL's ROUND.
_ROUNDING = _EXACT.copy()
_ROUNDING.traps[decimal.Inexact] = False


class _OutOfRange(ArithmeticError):
    """A numeric result no engine represents (raised inside closures; the closure of the
    operation turns it into a positioned error)."""


def _num(v: Any, t: Type) -> Any:
    if v is None:
        return None
    if t is Type.FLOAT:
        return float(v)
    if t is Type.DECIMAL:
        return v if isinstance(v, Decimal) else Decimal(v)
    return v


def _finite(x: float) -> float:
    if x - x == 0.0:
        return x
    raise _OutOfRange


def _mod(a: Any, b: Any) -> Any:
    if b == 0:
        return None
    if isinstance(a, float) or isinstance(b, float):
        return _finite(math.fmod(a, b))
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _EXACT.remainder(Decimal(a), Decimal(b))
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _round(v: Any, digits: int) -> Any:
    """``round(v, digits)``, halves away from zero; ``digits`` is in -18..18 (checked)."""
    if isinstance(v, int):
        if digits >= 0:
            return v
        return int(Decimal(v).quantize(Decimal(1).scaleb(-digits), context=_ROUNDING))
    d = v if isinstance(v, Decimal) else Decimal(repr(v))
    out = d.quantize(Decimal(1).scaleb(-digits), context=_ROUNDING)
    return _finite(float(out)) if isinstance(v, float) else out


def _out_of_range(node: ir.TExpr, what: str) -> EngineError:
    return EngineError(
        Diagnostic(
            code="out-of-range",
            message=f"the result of {what} is out of range",
            span=node.span,
            hints=(
                "numbers stay within 64-bit integers, finite floats and 1,000-digit "
                "decimals; DuckDB and PostgreSQL stop with an overflow error too",
            ),
        )
    )


def _describe(node: ir.TExpr) -> str:
    """How a message names the value of ``node`` (a field, an aggregate, or a value)."""
    match node:
        case ir.Field(name=name):
            return f"contact value for `{name}`"
        case ir.EventField(stream=stream, name=name):
            return f"`{stream}` value for `{name}`"
        case ir.Agg(func=func, stream=stream):
            return f"`{func.value}({stream}…)`"
        case _:
            return "value"


def _time_input(node: ir.TExpr, value: Any, tz: dt.tzinfo) -> EngineError:
    return EngineError(
        Diagnostic(
            code="bad-input",
            message=f"{_describe(node)} ({_show(value)}) is outside the times segql handles "
            f"in the schema's time zone ({tz})",
            span=node.span,
            hints=(timecalc.RANGE_TEXT,),
        )
    )


def _midnight(node: ir.TExpr, d: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """Midnight of the date value of ``node`` in ``tz``, as naive UTC."""
    try:
        return _naive(timecalc.date_to_timestamp(d, tz))
    except CheckError:
        raise _time_input(node, d, tz) from None


# ---------------------------------------------------------------------------------------
# The compiler
# ---------------------------------------------------------------------------------------
