"""Benchmark of the language core: `python bench/bench_syntax.py [--runs N]`.

Prints one table:
* `import segql` in a fresh interpreter, and the first parse there (loads Lark, builds
  the LALR tables); the median over N fresh processes, which also confirm that parsing
  and formatting load neither sqlglot nor duckdb;
* parse and format of a typical 10-clause segment (median, after a first parse);
* parse (or refusal) of a 5,000-term expression: with the default limits (too long), with
  only the length limit raised (parsed, then refused for its terms), and with raised limits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import segql  # noqa: E402

TYPICAL = (
    "purchases >= 3 and total_spent between 100 and 5_000 and country in ['DE', 'AT', 'CH'] "
    "and last_open < 30d and email ends with '@example.com' and not in segment churned "
    "and count(orders where amount > 50 within 90d) >= 2 "
    "and (has cart_adds within 1d or last(orders) > 180d) "
    "and lower(city) != 'berlin' and signup_at is not null"
)
HUGE = " and ".join(f"f{i % 50} > {i}" for i in range(2_500))  # 5,000 terms
RAISED = segql.Limits(max_length=10**7, max_depth=10**6, max_terms=10**7)
HEAVY = ("sqlglot", "duckdb", "pyarrow", "pandas", "polars", "prompt_toolkit")

_PROBE = """
import sys, time, json
t0 = time.perf_counter()
import segql
t1 = time.perf_counter()
segql.parse('x > 1')
t2 = time.perf_counter()
segql.format(segql.parse(%r))
print(json.dumps({"import": t1 - t0, "first_parse": t2 - t1,
                  "heavy": [m for m in %r if m in sys.modules]}))
"""


def fresh_process(runs: int) -> tuple[float, float, list[str]]:
    imports: list[float] = []
    firsts: list[float] = []
    heavy: set[str] = set()
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE % (TYPICAL, HEAVY)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        data = json.loads(out.stdout)
        imports.append(data["import"])
        firsts.append(data["first_parse"])
        heavy.update(data["heavy"])
    return statistics.median(imports), statistics.median(firsts), sorted(heavy)


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def refuse_or_parse(text: str, limits: segql.Limits | None) -> str:
    try:
        segql.parse(text) if limits is None else segql.parse(text, limits=limits)
    except segql.SegqlError as e:
        return f"refused ({e.code})"
    return "parsed"


def fmt_time(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds * 1000:8.0f} ms"
    if seconds >= 0.001:
        return f"{seconds * 1000:8.2f} ms"
    return f"{seconds * 1e6:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes (default 10)")
    args = parser.parse_args()

    imp, first, heavy = fresh_process(args.runs)
    tree = segql.parse(TYPICAL)
    rows = [
        ("import segql (fresh process, median)", imp, ""),
        ("first parse in that process (Lark + tables)", first, ""),
        ("parse, 10-clause segment (median)", median_time(lambda: segql.parse(TYPICAL), 200), ""),
        ("format, 10-clause segment (median)", median_time(lambda: segql.format(tree), 200), ""),
    ]
    variants = (
        ("default limits", None),  # refused at once: longer than 10,000 characters
        ("only length raised", segql.Limits(max_length=10**7)),  # parsed, then refused
        ("raised limits", RAISED),
    )
    for label, limits in variants:
        outcome = refuse_or_parse(HUGE, limits)
        t = median_time(lambda limits=limits: refuse_or_parse(HUGE, limits), 5)  # type: ignore[misc]
        rows.append((f"5,000-term expression, {label}", t, outcome))

    width = max(len(r[0]) for r in rows)
    print(f"segql {segql.__version__}, Python {sys.version.split()[0]}, {len(HUGE):,} chars")
    print(f"{'measure':<{width}}  {'time':>11}  note")
    print(f"{'-' * width}  {'-' * 11}  {'-' * 20}")
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {fmt_time(seconds)}  {note}")
    print(f"heavy modules after import + parse + format: {heavy or 'none'}")
    if heavy:
        sys.exit(1)


if __name__ == "__main__":
    main()
