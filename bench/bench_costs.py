"""Costs the expression limits alone do not bound (issue 9, item 20): the reviewer's cases.

    python bench/bench_costs.py [--timeout SECONDS] [CASE …]

Each case runs in its own process (killed after --timeout, default 120 s), so the same
script measures an older checkout too: ``PYTHONPATH=/path/to/old/checkout python
bench/bench_costs.py``. It uses only the API every version has. Results:
docs/performance.md, "Shared subexpressions".
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
CONTACT = {"id": 1, "age": 40}
EVENTS = {"orders": [{"ordered_at": dt.datetime(2026, 5, 1), "amount": 3}]}


def _schema(traits: dict[str, str] | None = None, segments: dict[str, str] | None = None) -> Any:
    import segql

    return segql.load_schema(
        {
            "timezone": "UTC",
            "entity": {"table": "contacts", "key": "id", "fields": {"age": "integer"}},
            "events": {
                "orders": {
                    "table": "orders",
                    "key": "contact_id",
                    "time": "ordered_at",
                    "fields": {"amount": "decimal"},
                }
            },
            "traits": traits or {"spent": "sum(orders.amount)"},
            "segments": {name: {"where": text} for name, text in (segments or {}).items()},
        }
    )


def _step(label: str, fn: Callable[[], Any], detail: Callable[[Any], str] = lambda _: "") -> Any:
    start = time.perf_counter()
    try:
        out = fn()
        note = detail(out)
    except BaseException as e:  # measured, whatever it is
        out = None
        note = f"{type(e).__name__}: {str(e).splitlines()[0][:70]}"
    print(f"  {label:<10} {time.perf_counter() - start:8.2f} s  {note}", flush=True)
    return out


def _compile_and_match(schema: Any, text: str) -> None:
    import segql

    _step("to_sql", lambda: segql.to_sql(text, schema, as_of=AS_OF), lambda s: f"{len(s):,} bytes")
    _step(
        "matches",
        lambda: segql.matches(text, schema, contact=CONTACT, events=EVENTS, as_of=AS_OF),
        str,
    )


def percentiles() -> None:
    """300 × `percentile(age) > i` on 20,000 contacts (DuckDB, 2 threads, 4 GB at most)."""
    import duckdb

    import segql

    schema = _schema()
    text = " or ".join(f"percentile(age) > {i % 50}" for i in range(300))
    sql = _step(
        "to_sql",
        lambda: segql.to_sql(text, schema, as_of=AS_OF),
        lambda s: f"{len(s):,} bytes, {s.count('PERCENT_RANK')} windows",
    )
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '4GB'")
    con.execute(
        "CREATE TABLE contacts AS SELECT i AS id, "
        "CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919) % 90 END AS age FROM range(20000) t(i)"
    )
    _step("duckdb", lambda: con.execute(sql).fetchall(), lambda rows: f"{len(rows):,} members")


def doubling_segments() -> None:
    """16 segments `s{i}: in segment s{i-1} and (in segment s{i-1} or age > {i})`."""
    segs = {"s0": "age > 30"}
    for i in range(1, 17):
        segs[f"s{i}"] = f"in segment s{i - 1} and (in segment s{i - 1} or age > {i})"
    schema = _step("load", lambda: _schema(segments=segs))
    _compile_and_match(schema, "in segment s16")


def doubling_traits() -> None:
    """20 traits `t{i}: t{i-1} + t{i-1}`."""
    traits = {"t0": "sum(orders.amount)"}
    for i in range(1, 21):
        traits[f"t{i}"] = f"t{i - 1} + t{i - 1}"
    schema = _step("load", lambda: _schema(traits=traits))
    _compile_and_match(schema, "t20 > 5")


def segment_chain() -> None:
    """80 segments `s{i}: in segment s{i-1} and age > {i}`."""
    segs = {"s0": "age > 0"}
    for i in range(1, 81):
        segs[f"s{i}"] = f"in segment s{i - 1} and age > {i}"
    schema = _step("load", lambda: _schema(segments=segs))
    _compile_and_match(schema, "in segment s80")


def trait_chain() -> None:
    """200 traits `t{i}: t{i-1} + {i}`."""
    traits = {"t0": "count(orders)"}
    for i in range(1, 201):
        traits[f"t{i}"] = f"t{i - 1} + {i}"
    schema = _step("load", lambda: _schema(traits=traits))
    _compile_and_match(schema, "t200 > 5")


def reversed_chain() -> None:
    """200 chained segments listed before the ones they use (beyond the default limits)."""
    segs = {"s0": "age > 0"}
    for i in range(1, 201):
        segs[f"s{i}"] = f"in segment s{i - 1} and age > {i}"
    _step("load", lambda: _schema(segments=dict(reversed(segs.items()))))


CASES: dict[str, Callable[[], None]] = {
    "percentiles": percentiles,
    "doubling_segments": doubling_segments,
    "doubling_traits": doubling_traits,
    "segment_chain": segment_chain,
    "trait_chain": trait_chain,
    "reversed_chain": reversed_chain,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="CASE", help=", ".join(CASES))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; cases: {', '.join(CASES)}")
    if args.child:
        for name in args.cases:
            CASES[name]()
        return
    for name in args.cases or CASES:
        print(f"{name}: {(CASES[name].__doc__ or '').strip()}", flush=True)
        try:
            subprocess.run(
                [sys.executable, __file__, "--child", name], timeout=args.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            print(f"  killed after {args.timeout:.0f} s", flush=True)


if __name__ == "__main__":
    main()
