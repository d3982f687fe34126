"""Times known before any data is read: ``now``, ``today``, ``D ago``, literals, and the
calendar functions and duration shifts of those. Back ends write them as literals (the same
SQL for the same as_of) and the evaluator computes them once per as_of."""

from __future__ import annotations

import datetime as dt

from segql.ir import nodes as ir
from segql.ir import timecalc

_STARTS = {
    ir.FuncName.START_OF_WEEK: "week",
    ir.FuncName.START_OF_MONTH: "month",
    ir.FuncName.START_OF_YEAR: "year",
}


def constant_time(
    node: ir.TExpr, as_of: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | dt.date | None:
    """The value of a time expression that reads no data (an aware UTC timestamp, or a
    date), or None when it reads data."""
    match node:
        case ir.Now():
            return as_of
        case ir.Today():
            return timecalc.today(as_of, tz, node.span)
        case ir.Ago(duration=d):
            return timecalc.ago(as_of, d.amount, d.unit, tz, d.span)
        case ir.Lit(value=v) if isinstance(v, dt.date):
            return v
        case ir.DateToTimestamp(operand=o):
            day = constant_time(o, as_of, tz)
            if isinstance(day, dt.datetime) or day is None:
                return day
            return timecalc.date_to_timestamp(day, tz, node.span)
        case ir.Shift(operand=o, duration=d, back=back):
            t = constant_time(o, as_of, tz)
            if not isinstance(t, dt.datetime):
                return None
            amount = -d.amount if back else d.amount
            return timecalc.shift(t, amount, d.unit, tz, node.span)
        case ir.Func(func=f, args=(o,)) if f is ir.FuncName.DATE or f in _STARTS:
            v = constant_time(o, as_of, tz)
            if v is None:
                return None
            day = v.astimezone(tz).date() if isinstance(v, dt.datetime) else v
            if f is ir.FuncName.DATE:
                return day
            first = timecalc.first_day(_STARTS[f], day)
            return timecalc.date_to_timestamp(first, tz, node.span)
        case _:
            return None
