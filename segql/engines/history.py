"""A segment over time (CONTRACT §6.4): its size at a series of as_of instants with who
entered and who left between consecutive points (`history`), and who entered, left and
stayed between two instants (`diff`). Every point is the segment evaluated at that as_of,
so a history equals the counts it summarises; a history is one statement over the time
grid (SqlOptions.points: each stream read once for all points, the sums taken by the
engine), or one query per point where the dialect cannot hold the grid."""

from __future__ import annotations

import datetime as dt
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.ir import timecalc

__all__ = ["MAX_POINTS", "diff", "history", "points"]

MAX_POINTS = 1000


def points(schema: Schema, start: Any, end: Any, every: str) -> list[dt.datetime]:
    """``start``, ``start + every``, … up to ``end`` (inclusive), moved as any duration
    moves a time (days and longer on the schema zone's calendar, CONTRACT §5.2)."""
    from segql.lang import ast as a
    from segql.lang.parser import parse

    first = timecalc.normalize_as_of(start)
    last = timecalc.normalize_as_of(end)
    try:
        step = parse(every)
    except Exception:
        step = None
    if not isinstance(step, a.DurationLit) or step.amount <= 0:
        raise EngineError(
            Diagnostic(
                code="bad-input",
                message=f"`--every {every}` is not a duration",
                hints=("e.g. `1w`, `1d`, `1mo`",),
            )
        )
    if last < first:
        raise EngineError(Diagnostic(code="bad-input", message="the history ends before it starts"))
    out = [first]
    n = 1
    while True:
        nxt = timecalc.shift(first, step.amount * n, step.unit, schema.tz)
        if nxt > last:
            break
        out.append(nxt)
        n += 1
        if len(out) > MAX_POINTS:
            raise EngineError(
                Diagnostic(
                    code="bad-input",
                    message=f"more than {MAX_POINTS} points: use a longer --every",
                )
            )
    return out


def _text(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def history(
    db: Any, source: Any, schema: Schema, at: list[dt.datetime], timeout: float | None
) -> list[dict[str, Any]]:
    """One statement over a time grid where the dialect can say it (each stream read
    once, its aggregates kept per point); else one query per point."""
    from segql.core.diagnostics import CheckError

    try:
        sums = db._query(source, schema, at[-1], (), (), points=at)
    except CheckError as e:
        if not any(d.code == "unsupported-construct" for d in e.diagnostics):
            raise
        return _per_point(db, source, schema, at, timeout)
    row = db._rows(db._text(sums), timeout)[0]
    out: list[dict[str, Any]] = []
    for i, t in enumerate(at):
        size, entered, exited = (int(v or 0) for v in row[3 * i : 3 * i + 3])
        out.append(
            {
                "as_of": _text(t),
                "size": size,
                "entered": None if i == 0 else entered,
                "exited": None if i == 0 else exited,
            }
        )
    return out


def _per_point(
    db: Any, source: Any, schema: Schema, at: list[dt.datetime], timeout: float | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before: set[Any] | None = None
    for t in at:
        now = set(db.member_ids(source, schema, as_of=t, timeout=timeout))
        out.append(
            {
                "as_of": _text(t),
                "size": len(now),
                "entered": None if before is None else len(now - before),
                "exited": None if before is None else len(before - now),
            }
        )
        before = now
    return out


def diff(
    db: Any,
    source: Any,
    schema: Schema,
    as_of: Any,
    against: Any,
    members: bool,
    timeout: float | None,
) -> dict[str, Any]:
    """Who is a member at ``as_of`` and not at ``against`` (entered), the reverse (exited),
    and both (stayed); ``against`` is the earlier instant, as a rule."""
    a = timecalc.normalize_as_of(as_of)
    b = timecalc.normalize_as_of(against)
    now = set(db.member_ids(source, schema, as_of=a, timeout=timeout))
    then = set(db.member_ids(source, schema, as_of=b, timeout=timeout))
    out: dict[str, Any] = {
        "as_of": _text(a),
        "against": _text(b),
        "entered": len(now - then),
        "exited": len(then - now),
        "stayed": len(now & then),
    }
    if members:
        out["members"] = {
            "entered": sorted(now - then, key=_order),
            "exited": sorted(then - now, key=_order),
            "stayed": sorted(now & then, key=_order),
        }
    return out


def _order(k: Any) -> tuple[int, Any]:
    return (0, k) if isinstance(k, int | float) else (1, str(k))
