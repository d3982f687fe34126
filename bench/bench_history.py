"""A segment's history (issue 14): 26 weekly points against one count.

    python bench/bench_history.py [--scale 1.0] [--runs 3]

On the synthetic CRM (bench/crm.py), `Database.history(expr, start=as_of - 25 weeks,
end=as_of, every="1w")` (what segql runs: one statement over the time grid, each stream's
pass shared by the points) and one query per point (segql's fallback) against
`Database.count(expr)` at as_of, alternating, for two segments. Prints the medians and the
ratios (the issue's goal: at most 5x).

Beside it, a **hand-written one-pass time-grid plan** on the same DuckDB (the plan the
issue asks to measure): each event is placed on the grid (the first point it is visible
at and, for `within D`, the first point it no longer is), per-contact running sums over
the grid give each aggregate at every point where it changes, the condition's transitions
give entered / exited, and a running sum of those gives the sizes. Its rows are checked
against segql's history before they are timed."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
SEGMENTS = {
    "vip": "count(orders) >= 5 and sum(orders.amount) > 1000",
    "re_engagement": "email_consent and not has email_opens within 60d and has orders within 1y",
}


WEEK_US = 7 * 86400 * 10**6
DAY_US = 86400 * 10**6


def _ts(t: dt.datetime) -> str:
    return f"TIMESTAMP '{t.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def _first(col: str, start: dt.datetime) -> str:
    """The first grid point an event at ``col`` is visible at (0: at or before start)."""
    d = f"date_diff('microsecond', {_ts(start)}, {col})"
    return f"CASE WHEN {d} <= 0 THEN 0 ELSE ({d} + {WEEK_US - 1}) // {WEEK_US} END"


def _gone(col: str, start: dt.datetime, days: int) -> str:
    """The first grid point at which an event is older than ``within {days}d``."""
    return f"(date_diff('microsecond', {_ts(start)}, {col}) + {days * DAY_US}) // {WEEK_US} + 1"


def _transitions(states: str) -> str:
    """Sizes, entered and exited per point from per-contact states (k, i, m)."""
    return f"""
    , tr AS (SELECT i, m, LAG(m, 1, false) OVER (PARTITION BY k ORDER BY i) AS prev
             FROM ({states}))
    , d AS (SELECT i, COUNT(*) FILTER (WHERE m AND NOT prev) AS ent,
                   COUNT(*) FILTER (WHERE prev AND NOT m) AS ex FROM tr GROUP BY i)
    SELECT g.i, SUM(COALESCE(d.ent, 0) - COALESCE(d.ex, 0)) OVER (ORDER BY g.i) AS size,
           COALESCE(d.ent, 0), COALESCE(d.ex, 0)
    FROM range(26) AS g(i) LEFT JOIN d ON d.i = g.i ORDER BY g.i"""


def grid_sql(name: str, start: dt.datetime) -> str:
    end = _ts(AS_OF)
    if name == "vip":
        return f"""
    WITH ev AS (SELECT contact_id AS k, {_first("ordered_at", start)} AS i, COUNT(*) AS n,
                       SUM(amount) AS s
                FROM orders WHERE ordered_at <= {end} GROUP BY ALL)
    , run AS (SELECT k, i, SUM(n) OVER w AS n, SUM(s) OVER w AS s FROM ev
              WINDOW w AS (PARTITION BY k ORDER BY i ROWS UNBOUNDED PRECEDING))
    {
            _transitions(
                "SELECT r.k, r.i, r.n >= 5 AND COALESCE(r.s, 0) > 1000 AS m FROM run AS r "
                "SEMI JOIN contacts AS c ON c.id = r.k"
            )
        }"""
    # re_engagement: email_consent and not has email_opens within 60d and has orders within 1y
    # (1y is 365 days for every point of this grid: no 29 February in the windows)
    opens = (
        f"SELECT contact_id AS k, \"at\" AS t FROM email_events WHERE type = 'open' "
        f'AND "at" <= {end} AND "at" >= {_ts(start - dt.timedelta(days=60))}'
    )
    orders = (
        f"SELECT contact_id AS k, ordered_at AS t FROM orders WHERE ordered_at <= {end} "
        f"AND ordered_at >= {_ts(start - dt.timedelta(days=365))}"
    )
    return f"""
    WITH o AS ({opens}), r AS ({orders})
    , deltas AS (
        SELECT k, {_first("t", start)} AS i, 1 AS a, 0 AS b FROM o
        UNION ALL SELECT k, {_gone("t", start, 60)}, -1, 0 FROM o
        UNION ALL SELECT k, {_first("t", start)}, 0, 1 FROM r
        UNION ALL SELECT k, {_gone("t", start, 365)}, 0, -1 FROM r)
    , ev AS (SELECT k, i, SUM(a) AS a, SUM(b) AS b FROM deltas WHERE i <= 25 GROUP BY ALL)
    , run AS (SELECT k, i, SUM(a) OVER w AS a, SUM(b) OVER w AS b FROM ev
              WINDOW w AS (PARTITION BY k ORDER BY i ROWS UNBOUNDED PRECEDING))
    {
        _transitions(
            "SELECT r.k, r.i, r.a = 0 AND r.b > 0 AS m FROM run AS r "
            "JOIN contacts AS c ON c.id = r.k WHERE c.email_consent"
        )
    }"""


def _points(start: dt.datetime) -> list[dt.datetime]:
    return [start + dt.timedelta(weeks=w) for w in range(26)]


def main() -> None:
    from segql.engine import Database

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    db = Database(crm.ensure(args.scale))
    schema = crm.schema()
    start = AS_OF - dt.timedelta(weeks=25)
    con = db.con  # the same DuckDB connection segql runs on
    from segql.engines.history import _per_point

    print(
        "| segment | one count | segql history (one statement, grid) | ratio "
        "| one query per point | ratio | hand-written grid | ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, expr in SEGMENTS.items():
        one: list[float] = []
        hist: list[float] = []
        grid: list[float] = []
        each: list[float] = []
        sql = grid_sql(name, start)
        for _ in range(args.runs):
            t = time.perf_counter()
            db.count(expr, schema, as_of=AS_OF)
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            points = db.history(expr, schema, start=start, end=AS_OF, every="1w")
            hist.append(time.perf_counter() - t)
            assert len(points) == 26
            t = time.perf_counter()
            per = _per_point(db, expr, schema, [p for p in _points(start)], None)
            each.append(time.perf_counter() - t)
            assert per == points, name
            t = time.perf_counter()
            rows = con.execute(sql).fetchall()
            grid.append(time.perf_counter() - t)
            assert [r[1] for r in rows] == [p["size"] for p in points], name
            assert [(r[2], r[3]) for r in rows[1:]] == [
                (p["entered"], p["exited"]) for p in points[1:]
            ], name
        a, b = statistics.median(one), statistics.median(hist)
        c, e = statistics.median(grid), statistics.median(each)
        print(
            f"| {name} | {a:.3f} s | {b:.3f} s | {b / a:.1f}x | {e:.3f} s | {e / a:.1f}x "
            f"| {c:.3f} s | {c / a:.1f}x |"
        )


if __name__ == "__main__":
    main()
