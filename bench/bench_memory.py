"""Peak memory of member exports on every engine (issue 11): does it grow with members?

    python bench/bench_memory.py [--scale 1.0] [--engines duckdb,sqlite,postgres,chdb,spark]

Loads the contacts of the synthetic CRM (bench/crm.py; the streams as empty tables, so
that the schema validates) into each engine, then, each in a fresh Python process,
exports a profile-only segment of about 10%, and of all, the contacts with five profile fields
as CSV and as Parquet, and reports the process's peak resident memory (ru_maxrss) above
its resident memory just before the export (after connecting and one count; the peak
is reset there through /proc/self/clear_refs, so earlier work does not count). Segment
size should not matter: exports stream in batches. PostgreSQL needs SEGQL_PG_DSN
(`source .ci/postgres.sh`). Spark's own memory is the JVM's, not counted here."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm

SEGMENTS = {"~10%": "age < 25", "all": "true"}
FIELDS = ["email", "age", "country", "signup_at", "email_consent"]

CHILD = r"""
import datetime as dt, json, sys
sys.path.insert(0, {bench!r})
import crm, segql

def status_kb(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0

url, expr, fmt, out = {url!r}, {expr!r}, {fmt!r}, {out!r}
as_of = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
schema = crm.schema()
if url.startswith("spark-views:"):
    db = segql.connect("spark:local[2]")
    for t, f in json.loads(url[len("spark-views:"):]).items():
        db.adapter.spark.read.parquet(f).createOrReplaceTempView(t)
else:
    db = segql.connect(url)
members = db.count(expr, schema, as_of=as_of)
with open("/proc/self/clear_refs", "w") as f:  # the peak (VmHWM) starts again from here
    f.write("5")
before = status_kb("VmRSS")
n = db.export(expr, schema, out, format=fmt, as_of=as_of, fields={fields!r})
peak = status_kb("VmHWM")
print(json.dumps({{"rows": n, "before_mb": before / 1024, "peak_mb": peak / 1024}}))
"""


def _files(duck: Path, folder: Path) -> dict[str, Path]:
    import duckdb

    con = duckdb.connect(str(duck), read_only=True)
    out = {}
    for t in ("contacts", "orders", "email_events"):
        out[t] = folder / f"{t}.parquet"
        limit = "" if t == "contacts" else " LIMIT 0"
        con.execute(f"COPY (SELECT * FROM {t}{limit}) TO '{out[t]}' (FORMAT PARQUET)")
    con.close()
    return out


def main() -> None:
    from bench_engines import load

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--engines", default="duckdb,sqlite,postgres,chdb,spark")
    args = p.parse_args()
    duck = crm.ensure(args.scale)
    folder = Path(tempfile.mkdtemp(prefix="segql-bench-mem-"))
    files = _files(duck, folder)
    rows: list[list[Any]] = []
    for engine in args.engines.split(","):
        cleanup = None
        if engine == "spark":
            url = "spark-views:" + json.dumps({t: str(f) for t, f in files.items()})
        else:
            made = load(engine, duck, files, folder)
            if made is None:
                continue
            url, cleanup = made
        for label, expr in SEGMENTS.items():
            for fmt in ("csv", "parquet"):
                code = CHILD.format(
                    bench=str(Path(__file__).parent),
                    url=url,
                    expr=expr,
                    fmt=fmt,
                    out=str(folder / f"out.{fmt}"),
                    fields=FIELDS,
                )
                done = subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=False
                )
                if done.returncode != 0:
                    print(f"{engine} {label} {fmt}: failed\n{done.stderr[-2000:]}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append([engine, fmt, label, r["rows"], r["before_mb"], r["peak_mb"]])
                print(rows[-1], flush=True)
        if cleanup is not None:
            cleanup()
    print(f"\nscale {args.scale:g}; MB of resident memory of the exporting Python process\n")
    print("| engine | format | segment | members | before export | peak | peak - before |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for e, fmt, label, n, before, peak in rows:
        grew = peak - before
        print(f"| {e} | {fmt} | {label} | {n:,} | {before:.0f} | {peak:.0f} | {grew:.0f} |")


if __name__ == "__main__":
    main()
