"""A segment's history (issue 14): 26 weekly points against one count.

    python bench/bench_history.py [--scale 1.0] [--runs 3]

On the synthetic CRM (bench/crm.py), `Database.history(expr, start=as_of - 25 weeks,
end=as_of, every="1w")` against `Database.count(expr)` at as_of, alternating, for two
segments. Prints the medians and the ratio (the issue's goal: at most 5x)."""

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


def main() -> None:
    from segql.engine import Database

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    db = Database(crm.ensure(args.scale))
    schema = crm.schema()
    start = AS_OF - dt.timedelta(weeks=25)
    print("| segment | one count | 26 weekly points | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, expr in SEGMENTS.items():
        one: list[float] = []
        hist: list[float] = []
        for _ in range(args.runs):
            t = time.perf_counter()
            db.count(expr, schema, as_of=AS_OF)
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            points = db.history(expr, schema, start=start, end=AS_OF, every="1w")
            hist.append(time.perf_counter() - t)
            assert len(points) == 26
        a, b = statistics.median(one), statistics.median(hist)
        print(f"| {name} | {a:.3f} s | {b:.3f} s | {b / a:.1f}x |")


if __name__ == "__main__":
    main()
