"""A contact and its events as the evaluator sees them, and the checks that turn user data
into values of the declared types (or a clear `bad-input` error)."""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from segql.core.diagnostics import (
    CheckError,
    Diagnostic,
    EngineError,
)
from segql.core.types import Type
from segql.ir import timecalc

Fn = Callable[["_Env", Any], Any]


@dataclass(slots=True)
class _Env:
    contact: dict[str, Any]
    raw_events: Mapping[str, Sequence[Mapping[str, Any]]]
    as_of: dt.datetime  # naive UTC: every timestamp inside the evaluator is naive UTC
    aware: dt.datetime
    times: dict[Any, Any]
    visible: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    memo: dict[int, Any] = field(default_factory=dict)  # values of shared nodes
    prior: Mapping[str, Any] | None = None  # the earlier event a of a sequence (`A.f`)
    since: dt.datetime | None = None  # naive UTC: only later events count (CONTRACT §6.5)


# ---------------------------------------------------------------------------------------
# Input values
# ---------------------------------------------------------------------------------------


def _input_error(message: str, *hints: str, code: str = "bad-input") -> EngineError:
    return EngineError(Diagnostic(code=code, message=message, hints=hints))


def _did_you_mean(name: str, candidates: Iterable[str]) -> tuple[str, ...]:
    hits = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    lower = [c for c in candidates if c.lower() == name.lower()]
    hits = lower[:1] or hits
    return (f"did you mean `{hits[0]}`?",) if hits else ()


def _bad(name: str, where: str, t: Type, value: Any, why: str = "") -> EngineError:
    return _input_error(
        f"{where} value for `{name}` must be {_expect(t)}{why}, not "
        f"{type(value).__name__} {_show(value)}"
    )


def _safe(key: object) -> str:
    """A key for a message: short, with control characters and lone surrogates escaped."""
    text = f"{key!s:.60}"
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _show(value: Any) -> str:
    """A value for a message: short, and printable (no lone surrogates or control
    characters reach a terminal)."""
    text = f"{value!r:.60}"
    return text.encode("ascii", "backslashreplace").decode("ascii") if not text.isascii() else text


def _out_of_time(name: str, where: str, value: Any, tz: dt.tzinfo) -> EngineError:
    return _input_error(
        f"{where} value for `{name}` ({_show(value)}) is outside the times segql handles "
        f"in the schema's time zone ({tz})",
        timecalc.RANGE_TEXT,
    )


_INT64 = 2**63
_DECIMAL_LIMIT = 38  # digits before the point: what DECIMAL(38) holds on every engine


def _expect(t: Type) -> str:
    return {
        Type.STRING: "a str",
        Type.INTEGER: "an int",
        Type.DECIMAL: "a number (int, Decimal or float)",
        Type.FLOAT: "a number (int, float or Decimal)",
        Type.BOOLEAN: "a bool",
        Type.DATE: "a datetime.date",
        Type.TIMESTAMP: "a datetime.datetime (naive means UTC)",
        Type.LIST_STRING: "a list of str",
        Type.LIST_INTEGER: "a list of int",
    }.get(t, str(t))


def _normalize(value: Any, t: Type, name: str, where: str, tz: dt.tzinfo) -> Any:
    """A caller's value as the evaluator's representation of type ``t``; values no engine
    stores exactly (NaN, infinities, integers beyond 64 bits, decimals of 38 digits or
    more before the point, times outside years 1..9999) are refused as ``bad-input``."""
    if value is None:
        return None
    if t is Type.STRING:
        if isinstance(value, str):
            return value
    elif t is Type.INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            if -_INT64 <= value < _INT64:
                return value
            raise _bad(name, where, t, value, " within 64 bits")
    elif t is Type.DECIMAL:
        if isinstance(value, Decimal):
            if value.is_finite() and value.adjusted() < _DECIMAL_LIMIT:
                return value
            raise _bad(name, where, t, value, " (finite, below 10**38)")
        if isinstance(value, int) and not isinstance(value, bool):
            return _normalize(Decimal(value), t, name, where, tz)
        if isinstance(value, float):
            if math.isfinite(value):
                return _normalize(Decimal(repr(value)), t, name, where, tz)
            raise _bad(name, where, t, value, " (finite)")
    elif t is Type.FLOAT:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            try:
                out = float(value)
            except (OverflowError, ValueError):  # a huge int; Decimal('sNaN')
                out = math.inf
            if math.isfinite(out):
                return out
            raise _bad(name, where, t, value, " (finite)")
    elif t is Type.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif t is Type.DATE:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
    elif t is Type.TIMESTAMP:
        try:
            if isinstance(value, dt.datetime):
                return _naive(value)
            if isinstance(value, dt.date):
                return _naive(timecalc.date_to_timestamp(value, tz))
        except (OverflowError, ValueError, CheckError):
            raise _out_of_time(name, where, value, tz) from None
    elif t.is_list and isinstance(value, list | tuple):
        elem = t.element
        return tuple(_normalize(v, elem, name, where, tz) for v in value)
    raise _bad(name, where, t, value)


def _naive(value: dt.datetime) -> dt.datetime:
    """UTC without a zone: the evaluator's one representation of an instant."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _plain(v: Any) -> bool:
    """Whether a value of a fast type is also in range (finite, 64-bit, DECIMAL(38))."""
    tv = type(v)
    if tv is float:
        return bool(v - v == 0.0)  # false for infinities and NaN
    if tv is Decimal:
        return bool(v.is_finite() and v.adjusted() < _DECIMAL_LIMIT)
    if tv is int:
        return bool(-_INT64 <= v < _INT64)
    return True


# Python types that need no conversion, per segql type (fast path for event fields).
_FAST: dict[Type, type] = {
    Type.STRING: str,
    Type.INTEGER: int,
    Type.DECIMAL: Decimal,
    Type.FLOAT: float,
    Type.BOOLEAN: bool,
    Type.DATE: dt.date,
}


# ---------------------------------------------------------------------------------------
# Three-valued helpers
# ---------------------------------------------------------------------------------------
