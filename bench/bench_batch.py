"""Batch evaluation (issue 13): every segment of a catalog at once against one by one.

    python bench/bench_batch.py [--scale 1.0] [--runs 5]

On the synthetic CRM (bench/crm.py: 1M contacts, 20M orders, 40M email events, 20M cart
adds at scale 1), a catalog shaped like the demo's — value and basket classes, lapsed and
new customers, re-engagement, cart follow-up, top spenders, RFM, consent — is counted
(`Database.counts`: one query, one pass over each stream) and, in the same rounds, segment
by segment (`Database.count` each). Both must agree. Prints the medians and the ratio."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)

CATALOG = {
    "vip": "purchases >= 5 and total_spent > 1000",
    "lapsed_vip": "in segment vip and last(orders) > 180d",
    "new_customers": "first(orders) within 30d",
    "re_engagement": "email_consent and not has email_opens within 60d and has orders within 1y",
    "cart_abandoners": "has cart_adds within 1d not followed by orders where product = "
    "cart_adds.product",
    "above_own_average": "has orders where amount > avg_order_value within 30d",
    "loyal_large_basket": "purchases >= 4 and avg_order_value >= 80",
    "loyal_small_basket": "purchases >= 4 and avg_order_value < 80",
    "occasional_large_basket": "purchases between 1 and 3 and avg_order_value >= 80",
    "occasional_small_basket": "purchases between 1 and 3 and avg_order_value < 80",
    "top_spenders": "top 10% by total_spent",
    "frequent_buyers": "count(orders within 90d) >= 3",
    "occasional_buyers": "has orders within 1y and count(orders within 90d) < 3",
    "shoe_lovers_de": "country = 'DE' and count(orders where category = 'shoes' within 90d) >= 2",
    "eu_email_consent": "country in ['DE', 'FR', 'AT', 'NL', 'ES'] and email_consent",
    "customers_this_week": "has orders where ordered_at >= start_of_week(today)",
}


def schema() -> Any:
    from segql.checker import check_schema
    from segql.core.schema import SegmentDef

    base = crm.schema()
    s = dataclasses.replace(
        base, segments={n: SegmentDef(name=n, text=t) for n, t in CATALOG.items()}
    )
    errors = [d for d in check_schema(s) if d.is_error]
    assert not errors, errors
    return s


def main() -> None:
    from segql.engine import Database

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    path = crm.ensure(args.scale)
    s = schema()
    db = Database(path)
    names = list(CATALOG)

    def batch() -> dict[str, int]:
        got = db.counts(s, names, as_of=AS_OF)
        return {n: got[n] for n in names}

    def single() -> dict[str, int]:
        return {n: db.count(f"in segment {n}", s, as_of=AS_OF) for n in names}

    want = single()
    got0 = batch()
    assert got0 == want, {n: (got0[n], want[n]) for n in names if got0[n] != want[n]}
    times: dict[str, list[float]] = {"batch": [], "single": []}
    ratios = []
    for r in range(args.runs):
        order = [("batch", batch), ("single", single)]
        if r % 2:
            order.reverse()
        got = {}
        for name, fn in order:
            t = time.perf_counter()
            fn()
            got[name] = time.perf_counter() - t
            times[name].append(got[name])
        ratios.append(got["batch"] / got["single"])
    b, one = statistics.median(times["batch"]), statistics.median(times["single"])
    print(f"scale {args.scale:g}: {len(names)} segments, medians of {args.runs} rounds")
    print("| all at once (one query) | one by one | at once / one by one (paired) |")
    print("| ---: | ---: | ---: |")
    print(f"| {b:.3f} s | {one:.3f} s | {statistics.median(ratios):.2f} |")
    for n in names:
        print(f"  {n}: {want[n]:,}")


if __name__ == "__main__":
    main()
