"""Micro-benchmarks of the language core: `python bench/bench_core.py`.

Prints medians for import, parse, check, to_sql and in-process evaluation, each next to
its budget from the issues, and a baseline measured in the same run (a trivial Python
operation of comparable shape) so numbers from different machines can be compared.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

TEN_CLAUSES = (
    "purchases > 3 and last_open < 30d and country in ['DE', 'AT'] "
    "and total_spent between 100 and 500 and not has orders within 30d and age >= 18 "
    "and email contains '@gmail' and count(orders where amount > 50 within 90d) >= 2 "
    "and in segment vip and lead_source = 'paid'"
)
# Ten clauses over three streams (issue 10's bench): a filtered `not has`, a sum in a
# window, list and string tests.
THREE_STREAMS = (
    "count(orders where amount > 50 within 90d) >= 2 "
    "and not has orders where (category = 'shoes' and gift) within 30d "
    "and count(clicks where url contains '/sale' within 14d) >= 3 "
    "and last(email_opens) < 30d and sum(orders.amount within 365d) > 500 "
    "and tags contains 'vip' and email ends with '.com' and country in ['DE', 'AT', 'CH'] "
    "and age between 25 and 54 and lower(lead_source) starts with 'pa'"
)
FIVE_CLAUSES = (
    "count(orders where category = 'shoes' within 90d) >= 2 and total_spent > 100 "
    "and last_order < 30d and country = 'DE' and not has orders where amount > 900"
)


def median_ms(fn: Callable[[], object], repeat: int = 300) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def import_ms() -> tuple[float, list[str]]:
    code = (
        "import time, sys; t = time.perf_counter(); import segql; "
        "e = time.perf_counter() - t; segql.parse('x > 1'); segql.format('x > 1'); "
        "heavy = [m for m in ('sqlglot', 'duckdb', 'prompt_toolkit', 'pyarrow') "
        "if m in sys.modules]; print(e * 1000, ','.join(heavy))"
    )
    runs = []
    heavy = ""
    for _ in range(10):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        runs.append(float(out[0]))
        heavy = out[1] if len(out) > 1 else ""
    return statistics.median(runs), [h for h in heavy.split(",") if h]


def _with_clicks(schema: Any) -> Any:
    """The shop schema with a third stream, clicks."""
    import dataclasses

    from segql.core.schema import FieldDef, Source, Stream
    from segql.core.types import Type

    fields = {n: FieldDef(name=n, type=Type.STRING, column=n) for n in ("url", "campaign")}
    clicks = Stream(
        name="clicks",
        source=Source(table="clicks"),
        key="contact_id",
        time="clicked_at",
        fields=fields,
    )
    return dataclasses.replace(schema, streams={**schema.streams, "clicks": clicks})


def main() -> None:
    from shop_schema import shop_schema

    import segql
    from segql.backends.python import Predicate
    from segql.checker import check, typed
    from segql.pipeline import to_sql

    schema = shop_schema()
    three = _with_clicks(schema)
    as_of = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    rows: list[tuple[str, float, str]] = []

    imp, heavy = import_ms()
    rows.append(("import segql (fresh process)", imp, "<= 150 ms"))
    rows.append(("parse, 10 clauses", median_ms(lambda: segql.parse(TEN_CLAUSES)), "<= 0.5 ms"))
    tree = segql.parse(TEN_CLAUSES)
    rows.append(("format, 10 clauses", median_ms(lambda: segql.format(tree)), "-"))
    rows.append(("check, 10 clauses", median_ms(lambda: check(TEN_CLAUSES, schema)), "<= 1 ms"))
    typed_tree = typed(TEN_CLAUSES, schema)
    rows.append(
        (
            "to_sql, 10 clauses (checked)",
            median_ms(lambda: to_sql(typed_tree, schema, as_of=as_of)),
            "<= 2 ms",
        )
    )
    rows.append(
        (
            "to_sql, 10 clauses (from text)",
            median_ms(lambda: to_sql(TEN_CLAUSES, schema, as_of=as_of)),
            "-",
        )
    )
    rows.append(("parse, 3 streams", median_ms(lambda: segql.parse(THREE_STREAMS)), "<= 0.5 ms"))
    rows.append(("check, 3 streams", median_ms(lambda: check(THREE_STREAMS, three)), "<= 1 ms"))
    typed_three = typed(THREE_STREAMS, three)
    rows.append(
        (
            "to_sql, 3 streams (checked)",
            median_ms(lambda: to_sql(typed_three, three, as_of=as_of)),
            "<= 2 ms",
        )
    )
    big = " and ".join(f"age > {i}" for i in range(5000))
    start = time.perf_counter()
    with contextlib.suppress(segql.SegqlError):
        segql.parse(big)
    rows.append(
        ("refuse 5,000 terms (default limits)", (time.perf_counter() - start) * 1000, "< 1 s")
    )
    start = time.perf_counter()
    segql.parse(big, limits=segql.Limits(max_length=10**6, max_terms=10**6))
    rows.append(
        ("parse 5,000 terms (raised limits)", (time.perf_counter() - start) * 1000, "< 1 s")
    )

    pred = Predicate(typed(FIVE_CLAUSES, schema), schema)
    cats = ["shoes", "bags", "books"]
    naive = as_of.replace(tzinfo=None)  # naive datetimes are UTC (CONTRACT §4.3)
    events = {
        "orders": [
            {
                "ordered_at": naive - dt.timedelta(hours=7 * i + 1),
                "amount": Decimal(i % 97) + Decimal("0.5"),
                "category": cats[i % 3],
                "gift": i % 5 == 0,
            }
            for i in range(1000)
        ]
    }
    contact = {"id": 1, "country": "DE", "age": 40}
    rows.append(
        (
            "matches, 5 clauses, 1,000 events",
            median_ms(lambda: pred(contact, events, as_of), repeat=200),
            "<= 1 ms",
        )
    )
    baseline = median_ms(lambda: sorted(e["ordered_at"] for e in events["orders"]), repeat=200)
    rows.append(("  baseline: sort 1,000 event times", baseline, "-"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median ms':>10}  budget")
    for name, ms, budget in rows:
        print(f"{name:<{width}}  {ms:>10.3f}  {budget}")
    print(f"\nheavy modules loaded by import + parse + format: {heavy or 'none'}")


if __name__ == "__main__":
    main()
