"""segql's SQL against hand-written plans and pandas, on a synthetic CRM in DuckDB.

    python bench/bench_engine.py [--scale 1.0] [--runs 9] [--min-seconds 6] [--no-pandas]

Generates the data if missing (bench/crm.py). Phase 1 times, for each segment and in the
same rounds: segql (`Database.member_ids`: compile, validate, run, fetch) and every
hand-written plan on the same connection (reporting the best). Phase 2 loads the tables
into pandas (outside the timing) and times an idiomatic pandas implementation. All must
return the same members. Prints a markdown table of medians and ratios."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm

AS_OF = "2026-06-01 12:00:00"
TS = f"TIMESTAMP '{AS_OF}'"


def ago(days: int) -> str:
    return f"({TS} - INTERVAL {days} DAY)"


# name -> (segql expression, hand-written plans)
SEGMENTS: dict[str, tuple[str, list[str]]] = {
    "vip": (
        "count(orders) >= 5 and sum(orders.amount) > 1000",
        [
            f"""SELECT c.id FROM contacts c JOIN (
                  SELECT contact_id FROM orders WHERE ordered_at <= {TS}
                  GROUP BY contact_id HAVING count(*) >= 5 AND sum(amount) > 1000
                ) o ON o.contact_id = c.id""",
            f"""SELECT id FROM contacts WHERE id IN (
                  SELECT contact_id FROM orders WHERE ordered_at <= {TS}
                  GROUP BY contact_id HAVING count(*) >= 5 AND sum(amount) > 1000)""",
        ],
    ),
    "re_engagement": (
        "email_consent and not has email_opens within 60d and has orders within 1y",
        [
            f"""SELECT c.id FROM contacts c WHERE c.email_consent
                AND NOT EXISTS (SELECT 1 FROM email_events e WHERE e.contact_id = c.id
                  AND e.type = 'open' AND e."at" BETWEEN {ago(60)} AND {TS})
                AND EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = c.id
                  AND o.ordered_at BETWEEN {ago(365)} AND {TS})""",
            f"""SELECT id FROM contacts WHERE email_consent AND id IN (
                  SELECT contact_id FROM orders WHERE ordered_at BETWEEN {ago(365)} AND {TS}
                  EXCEPT
                  SELECT contact_id FROM email_events WHERE type = 'open'
                    AND "at" BETWEEN {ago(60)} AND {TS})""",
        ],
    ),
    "shoes_de": (
        "country = 'DE' and count(orders where category = 'shoes' within 90d) >= 2",
        [
            f"""SELECT c.id FROM contacts c JOIN (
                  SELECT contact_id FROM orders WHERE category = 'shoes'
                    AND ordered_at BETWEEN {ago(90)} AND {TS}
                  GROUP BY contact_id HAVING count(*) >= 2) o ON o.contact_id = c.id
                WHERE c.country = 'DE'""",
            f"""SELECT c.id FROM contacts c WHERE c.country = 'DE' AND (
                  SELECT count(*) FROM orders o WHERE o.contact_id = c.id
                    AND o.category = 'shoes' AND o.ordered_at BETWEEN {ago(90)} AND {TS}) >= 2""",
        ],
    ),
    "lapsed": (
        "last(orders) > 180d and count(orders) >= 3",
        [
            f"""SELECT contact_id FROM orders WHERE ordered_at <= {TS}
                  AND contact_id IN (SELECT id FROM contacts)
                GROUP BY contact_id HAVING max(ordered_at) < {ago(180)} AND count(*) >= 3""",
            f"""SELECT c.id FROM contacts c JOIN (
                  SELECT contact_id, max(ordered_at) AS last, count(*) AS n FROM orders
                  WHERE ordered_at <= {TS} GROUP BY contact_id) o ON o.contact_id = c.id
                WHERE o.last < {ago(180)} AND o.n >= 3""",
        ],
    ),
    "top10_consent": (
        "top 10% by total_spent and email_consent",
        [
            f"""WITH s AS (SELECT c.id, c.email_consent, COALESCE(o.total, 0) AS total
                  FROM contacts c LEFT JOIN (SELECT contact_id, sum(amount) AS total
                    FROM orders WHERE ordered_at <= {TS} GROUP BY contact_id) o
                  ON o.contact_id = c.id),
                r AS (SELECT id, email_consent,
                  percent_rank() OVER (ORDER BY total) AS p FROM s)
                SELECT id FROM r WHERE p >= 0.9 AND email_consent""",
        ],
    ),
    "multi_stream": (
        "count(orders within 30d) >= 1 and count(email_opens within 30d) >= 3 "
        "and age between 25 and 45",
        [
            f"""SELECT c.id FROM contacts c
                JOIN (SELECT contact_id FROM orders WHERE ordered_at BETWEEN {ago(30)} AND {TS}
                      GROUP BY contact_id) o ON o.contact_id = c.id
                JOIN (SELECT contact_id FROM email_events WHERE type = 'open'
                      AND "at" BETWEEN {ago(30)} AND {TS}
                      GROUP BY contact_id HAVING count(*) >= 3) e ON e.contact_id = c.id
                WHERE c.age BETWEEN 25 AND 45""",
        ],
    ),
    # issue 12: a sequence with the earlier event's field, and a correlated condition
    "cart_abandon": (
        "has cart_adds within 7d not followed by orders where product = cart_adds.product "
        "within 1d",
        [
            # anti join per add
            f"""SELECT DISTINCT a.contact_id FROM cart_adds a
                WHERE a.added_at BETWEEN {ago(7)} AND {TS}
                  AND a.contact_id IN (SELECT id FROM contacts)
                  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = a.contact_id
                    AND o.product = a.product AND o.ordered_at > a.added_at
                    AND o.ordered_at <= a.added_at + INTERVAL 1 DAY
                    AND o.ordered_at <= {TS})""",
            # left join, keeping the adds without a match
            f"""SELECT DISTINCT a.contact_id FROM cart_adds a
                JOIN contacts c ON c.id = a.contact_id
                LEFT JOIN orders o ON o.contact_id = a.contact_id AND o.product = a.product
                  AND o.ordered_at > a.added_at
                  AND o.ordered_at <= least(a.added_at + INTERVAL 1 DAY, {TS})
                WHERE a.added_at BETWEEN {ago(7)} AND {TS} AND o.contact_id IS NULL""",
            # the orders that can follow a recent add, cut by time first
            f"""WITH recent AS (SELECT contact_id, product, ordered_at FROM orders
                  WHERE ordered_at > {ago(7)} AND ordered_at <= {TS})
                SELECT DISTINCT a.contact_id FROM cart_adds a
                WHERE a.added_at BETWEEN {ago(7)} AND {TS}
                  AND a.contact_id IN (SELECT id FROM contacts)
                  AND NOT EXISTS (SELECT 1 FROM recent o WHERE o.contact_id = a.contact_id
                    AND o.product = a.product AND o.ordered_at > a.added_at
                    AND o.ordered_at <= a.added_at + INTERVAL 1 DAY)""",
        ],
    ),
    "above_own_avg": (
        "has orders where amount > avg_order_value within 30d",
        [
            # the averages joined to the recent orders
            f"""WITH av AS (SELECT contact_id, avg(amount) AS a FROM orders
                  WHERE ordered_at <= {TS} GROUP BY contact_id)
                SELECT DISTINCT o.contact_id FROM orders o
                JOIN av ON av.contact_id = o.contact_id
                JOIN contacts c ON c.id = o.contact_id
                WHERE o.ordered_at BETWEEN {ago(30)} AND {TS} AND o.amount > av.a""",
            # a window average over each contact's orders
            f"""SELECT DISTINCT contact_id FROM (
                  SELECT contact_id, ordered_at, amount,
                    avg(amount) OVER (PARTITION BY contact_id) AS a
                  FROM orders WHERE ordered_at <= {TS}) o
                WHERE ordered_at >= {ago(30)} AND amount > a
                  AND contact_id IN (SELECT id FROM contacts)""",
            # averages only for contacts with a recent order
            f"""WITH r AS (SELECT contact_id, amount FROM orders
                  WHERE ordered_at BETWEEN {ago(30)} AND {TS}),
                av AS (SELECT contact_id, avg(amount) AS a FROM orders
                  WHERE ordered_at <= {TS} AND contact_id IN (SELECT contact_id FROM r)
                  GROUP BY contact_id)
                SELECT DISTINCT r.contact_id FROM r JOIN av ON av.contact_id = r.contact_id
                WHERE r.amount > av.a AND r.contact_id IN (SELECT id FROM contacts)""",
        ],
    ),
}


def pandas_segments(frames: dict[str, Any]) -> dict[str, Callable[[], set[int]]]:
    import pandas as pd

    as_of = pd.Timestamp(AS_OF)
    c, o, e = frames["contacts"], frames["orders"], frames["email_events"]

    def days(n: int) -> Any:
        return as_of - pd.Timedelta(days=n)

    def vip() -> set[int]:
        ov = o[o.ordered_at <= as_of]
        g = ov.groupby("contact_id").agg(n=("amount", "size"), s=("amount", "sum"))
        ids = g[(g.n >= 5) & (g.s > 1000)].index
        return set(c.id[c.id.isin(ids)])

    def re_engagement() -> set[int]:
        opens = e[(e.type == "open") & (e["at"] >= days(60)) & (e["at"] <= as_of)].contact_id
        bought = o[(o.ordered_at >= days(365)) & (o.ordered_at <= as_of)].contact_id
        sel = (c.email_consent == True) & ~c.id.isin(opens) & c.id.isin(bought)  # noqa: E712
        return set(c.id[sel])

    def shoes_de() -> set[int]:
        ov = o[(o.category == "shoes") & (o.ordered_at >= days(90)) & (o.ordered_at <= as_of)]
        n = ov.groupby("contact_id").size()
        return set(c.id[(c.country == "DE") & c.id.isin(n[n >= 2].index)])

    def lapsed() -> set[int]:
        ov = o[o.ordered_at <= as_of]
        g = ov.groupby("contact_id").agg(last=("ordered_at", "max"), n=("ordered_at", "size"))
        ids = g[(g["last"] < days(180)) & (g.n >= 3)].index
        return set(c.id[c.id.isin(ids)])

    def top10_consent() -> set[int]:
        ov = o[o.ordered_at <= as_of]
        total = ov.groupby("contact_id").amount.sum()
        s = c.set_index("id").join(total.rename("total")).fillna({"total": 0})
        p = s.total.rank(method="min")
        pr = (p - 1) / (len(s) - 1)
        return set(s.index[(pr >= 0.9) & (s.email_consent == True)])  # noqa: E712

    def multi_stream() -> set[int]:
        ov = o[(o.ordered_at >= days(30)) & (o.ordered_at <= as_of)].contact_id
        ev = e[(e.type == "open") & (e["at"] >= days(30)) & (e["at"] <= as_of)]
        n = ev.groupby("contact_id").size()
        sel = c.id.isin(ov) & c.id.isin(n[n >= 3].index) & c.age.between(25, 45)
        return set(c.id[sel])

    def cart_abandon() -> set[int]:
        a = frames["cart_adds"]
        a = a[(a.added_at >= days(7)) & (a.added_at <= as_of) & a.contact_id.isin(c.id)]
        a = a.reset_index(drop=True).rename_axis("add").reset_index()
        later = o[(o.ordered_at > days(7)) & (o.ordered_at <= as_of)]
        m = a.merge(later, on=["contact_id", "product"])
        hit = (m.ordered_at > m.added_at) & (m.ordered_at <= m.added_at + pd.Timedelta(days=1))
        followed = set(m["add"][hit])
        return set(a.contact_id[~a["add"].isin(followed)])

    def above_own_avg() -> set[int]:
        ov = o[o.ordered_at <= as_of]
        avg = ov.groupby("contact_id").amount.mean().rename("a")
        r = ov[ov.ordered_at >= days(30)].join(avg, on="contact_id")
        return set(r.contact_id[(r.amount > r.a) & r.contact_id.isin(c.id)])

    return {
        "cart_abandon": cart_abandon,
        "above_own_avg": above_own_avg,
        "vip": vip,
        "re_engagement": re_engagement,
        "shoes_de": shoes_de,
        "lapsed": lapsed,
        "top10_consent": top10_consent,
        "multi_stream": multi_stream,
    }


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def interleaved(
    fns: list[Callable[[], Any]], runs: int, min_seconds: float
) -> tuple[list[float], float, int, list[Any]]:
    """Median time of each candidate, measured round-robin (rotating who goes first) so
    that the machine's state affects all alike, and the median over rounds of the first
    candidate's time over the best of the others in the same round (a paired ratio: drift
    between rounds cancels). At least ``runs`` rounds, and more until ``min_seconds``
    have passed, so fast segments get enough rounds to be stable."""
    results = [fn() for fn in fns]  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    start = time.perf_counter()
    r = 0
    while r < runs or time.perf_counter() - start < min_seconds:
        for j in range(len(fns)):
            i = (r + j) % len(fns)
            t = time.perf_counter()
            results[i] = fns[i]()
            times[i].append(time.perf_counter() - t)
        r += 1
    ratios = [times[0][k] / min(times[i][k] for i in range(1, len(fns))) for k in range(r)]
    return [statistics.median(t) for t in times], statistics.median(ratios), r, results


def main() -> None:
    import datetime as dt

    from segql.engine import Database

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--min-seconds", type=float, default=6.0)
    p.add_argument("--no-pandas", action="store_true")
    p.add_argument("--only", default="", help="comma-separated segment names")
    args = p.parse_args()
    path = crm.ensure(args.scale)
    # segql runs through its engine (the product path, with its DuckDB settings); the hand
    # plans run on the same connection, so they get the same settings.
    db = Database(path)
    con = db.con
    schema = crm.schema()
    as_of = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)

    def ids(sql: str) -> Callable[[], set[int]]:
        # Fetched as Database.member_ids fetches integer keys, so only the plans differ.
        def run() -> set[int]:
            cur = con.execute(sql)
            return set(cur.fetchnumpy()[cur.description[0][0]].tolist())

        return run

    # Phase 1: segql and the hand plans, with nothing else in memory.
    rows = []
    members_of: dict[str, set[int]] = {}
    only = {x for x in args.only.split(",") if x}
    for name, (expr, plans) in SEGMENTS.items():
        if only and name not in only:
            continue

        def segql(expr: str = expr) -> set[int]:
            return set(db.member_ids(expr, schema, as_of=as_of))

        candidates = [segql, *(ids(p) for p in plans)]
        medians, ratio, rounds, results = interleaved(candidates, args.runs, args.min_seconds)
        members = members_of[name] = results[0]
        for got in results[1:]:
            assert got == members, (name, "hand plan differs", len(got), len(members))
        rows.append([name, len(members), medians[0], min(medians[1:]), ratio, rounds, None])
    # Phase 2: pandas, with its frames loaded (outside the timing).
    if not args.no_pandas:
        t = time.perf_counter()
        frames = {
            table: con.sql(f"SELECT * FROM {table}").df()
            for table in ("contacts", "orders", "email_events", "cart_adds")
        }
        print(f"pandas load (not timed): {time.perf_counter() - t:.1f}s")
        pd_fns = pandas_segments(frames)
        for row in rows:
            t_pd, got = timed(pd_fns[row[0]], args.runs)
            assert got == members_of[row[0]], (row[0], "pandas differs")
            row[6] = t_pd
    print(
        f"\nscale {args.scale:g}: medians after a warm-up, seconds; segql and hand plans "
        f"round-robin for at least {args.runs} rounds and {args.min_seconds:g} s; "
        f"pandas {args.runs} runs\n"
    )
    print(
        "| segment | members | segql | best hand plan | segql / best (paired) | rounds "
        "| pandas | pandas / segql |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, n, ts, tb, ratio, rounds, tp in rows:
        pd_cells = f"{tp:.3f} | {tp / ts:.1f}x" if tp is not None else "- | -"
        print(f"| {name} | {n:,} | {ts:.3f} | {tb:.3f} | {ratio:.2f} | {rounds} | {pd_cells} |")


if __name__ == "__main__":
    main()
