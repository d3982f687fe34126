"""Exporting members: CSV and JSON Lines against Parquet, through `Database.export`.

    python bench/bench_export.py [--scale 1.0] [--runs 5]

On the synthetic CRM (bench/crm.py, generated if missing), exports a segment of about half
the contacts with profile fields and a trait in each format, to files, and reports the
median time of each and its ratio to Parquet (goal: CSV <= 1.5x). Baselines in the same
run: the same rows fetched as Arrow and written by Python's csv module (what segql did
before), and by pandas' `to_csv`."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm

from segql.engine import Database

SEGMENT = "email_consent or age > 40"
FIELDS = ["email", "age", "country", "birthday", "signup_at", "email_consent", "total_spent"]


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    path = crm.ensure(args.scale)
    schema = crm.schema()
    as_of = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    out = Path(tempfile.mkdtemp(prefix="segql-bench-export-"))
    results: dict[str, float] = {}
    with Database(path) as db:
        rows = db.count(SEGMENT, schema, as_of=as_of)
        for fmt in ("parquet", "csv", "jsonl"):
            target = out / f"m.{fmt}"
            results[fmt] = timed(
                lambda fmt=fmt, target=target: db.export(
                    SEGMENT, schema, target, format=fmt, as_of=as_of, fields=FIELDS
                ),
                args.runs,
            )

        def python_csv() -> None:
            table = db.members(SEGMENT, schema, as_of=as_of, fields=FIELDS)
            with open(out / "py.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(table.column_names)
                for row in table.to_pylist():
                    w.writerow(list(row.values()))

        def pandas_csv() -> None:
            db.members(SEGMENT, schema, as_of=as_of, fields=FIELDS).to_pandas().to_csv(
                out / "pd.csv", index=False
            )

        results["csv (Python csv module)"] = timed(python_csv, max(1, args.runs // 2))
        results["csv (pandas to_csv)"] = timed(pandas_csv, max(1, args.runs // 2))
    base = results["parquet"]
    print(f"{rows:,} rows, {len(FIELDS)} fields + key, median of {args.runs} runs\n")
    print("| export | seconds | / parquet |")
    print("| --- | ---: | ---: |")
    for name, secs in results.items():
        print(f"| {name} | {secs:.3f} | {secs / base:.2f}x |")


if __name__ == "__main__":
    main()
