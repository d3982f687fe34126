"""segql's SQL against hand-written plans on every engine (issue 11):

    python bench/bench_engines.py [--scale 0.05] [--runs 5] [--engines duckdb,sqlite,…]

Generates the synthetic CRM (bench/crm.py) at ``--scale`` (1.0 = 1M contacts, 20M orders,
40M email events), loads it into each engine (outside the timing), then times, per engine
and segment, segql (`segql.connect(url).member_ids`: compile, validate, run, fetch) and the
hand-written plans of bench_engine.py transpiled to the engine's dialect by sqlglot, run
and fetched through the same adapter, round-robin. Both must return the same members (a
hand plan that does not is reported as n/a). PostgreSQL needs SEGQL_PG_DSN
(`source .ci/postgres.sh`). Prints a markdown table of medians and paired ratios."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm
from bench_engine import SEGMENTS

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
TABLES = ("contacts", "orders", "email_events", "cart_adds")


def _parquet(duck: Path, folder: Path) -> dict[str, Path]:
    import duckdb

    con = duckdb.connect(str(duck), read_only=True)
    out = {}
    for t in TABLES:
        out[t] = folder / f"{t}.parquet"
        con.execute(f"COPY {t} TO '{out[t]}' (FORMAT PARQUET)")
    con.close()
    return out


def _sqlite(files: dict[str, Path], folder: Path) -> str:
    import sqlite3

    import duckdb

    path = folder / "crm.sqlite"
    lite = sqlite3.connect(path)
    duck = duckdb.connect()
    for t, f in files.items():
        rel = duck.sql(f"SELECT * FROM read_parquet('{f}')")
        cols = rel.columns
        types = [str(x) for x in rel.types]
        sel = ", ".join(
            f"strftime(\"{c}\", '%Y-%m-%d %H:%M:%S.%f')"
            if ty.startswith("TIMESTAMP")
            else f'CAST("{c}" AS DOUBLE)'
            if ty.startswith("DECIMAL")
            else f'"{c}"'
            for c, ty in zip(cols, types, strict=True)
        )
        lite.execute(f"CREATE TABLE {t} ({', '.join(chr(34) + c + chr(34) for c in cols)})")
        cur = duck.execute(f"SELECT {sel} FROM read_parquet('{f}')")
        while rows := cur.fetchmany(100_000):
            lite.executemany(f"INSERT INTO {t} VALUES ({', '.join('?' for _ in cols)})", rows)
    lite.execute("CREATE INDEX orders_c ON orders(contact_id)")
    lite.execute("CREATE INDEX events_c ON email_events(contact_id)")
    lite.commit()
    lite.close()
    return f"sqlite:///{path}"


def _postgres(files: dict[str, Path]) -> tuple[str, Callable[[], None]] | None:
    dsn = os.environ.get("SEGQL_PG_DSN")
    if not dsn:
        return None
    import duckdb
    import psycopg

    schema = f"segql_bench_{os.getpid()}"
    con = psycopg.connect(dsn, autocommit=True)
    con.execute(f"CREATE SCHEMA {schema}")
    duck = duckdb.connect()
    pg_types = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "VARCHAR": "TEXT", "BOOLEAN": "BOOLEAN",
                "DOUBLE": "DOUBLE PRECISION", "DATE": "DATE"}  # fmt: skip
    for t, f in files.items():
        rel = duck.sql(f"SELECT * FROM read_parquet('{f}')")
        cols = []
        for c, ty in zip(rel.columns, [str(x) for x in rel.types], strict=True):
            pg = (
                "TIMESTAMP"
                if ty.startswith("TIMESTAMP")
                else "NUMERIC"
                if ty.startswith("DECIMAL")
                else pg_types.get(ty, "TEXT")
            )
            cols.append(f'"{c}" {pg}')
        con.execute(f"CREATE TABLE {schema}.{t} ({', '.join(cols)})")
        csv = Path(tempfile.mkdtemp()) / f"{t}.csv"
        duck.execute(f"COPY (SELECT * FROM read_parquet('{f}')) TO '{csv}' (HEADER false)")
        copy = f"COPY {schema}.{t} FROM STDIN (FORMAT csv)"
        with con.cursor() as cur, cur.copy(copy) as cp, open(csv, "rb") as fh:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
    con.execute(f"CREATE INDEX ON {schema}.orders(contact_id)")
    con.execute(f"CREATE INDEX ON {schema}.email_events(contact_id)")
    con.execute(
        f"ANALYZE {schema}.contacts; ANALYZE {schema}.orders; ANALYZE {schema}.email_events"
    )

    def drop() -> None:
        con.execute(f"DROP SCHEMA {schema} CASCADE")
        con.close()

    return f"{dsn}?options=-csearch_path%3D{schema}", drop


def _chdb(files: dict[str, Path], folder: Path) -> str:
    from chdb import session

    path = folder / "ch"
    s = session.Session(str(path))
    for t, f in files.items():
        s.query(
            f"CREATE TABLE {t} ENGINE = MergeTree ORDER BY tuple() "
            f"AS SELECT * FROM file('{f}', Parquet)"
        )
    s.close()
    return f"chdb:///{path}"


def load(
    engine: str, duck: Path, files: dict[str, Path], folder: Path
) -> tuple[str, Callable[[], None] | None] | None:
    """The URL of ``engine`` holding the data (and how to drop it afterwards), or None
    when it cannot run here; Spark, whose local session lives in one process, is the
    caller's."""
    if engine == "duckdb":
        return str(duck), None
    if engine == "sqlite":
        return _sqlite(files, folder), None
    if engine == "postgres":
        made = _postgres(files)
        if made is None:
            print("postgres: skipped (no SEGQL_PG_DSN)")
        return made
    assert engine == "chdb", engine
    return _chdb(files, folder), None


def _spark(files: dict[str, Path]) -> Any:
    import segql

    db = segql.connect("spark:local[2]")
    for t, f in files.items():
        db.adapter.spark.read.parquet(str(f)).createOrReplaceTempView(t)
    return db


def interleaved(fns: list[Callable[[], Any]], runs: int) -> tuple[list[float], float, list[Any]]:
    results = [fn() for fn in fns]  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    best = [min(range(1, len(fns)), key=lambda i: times[i][k]) for k in range(runs)]
    ratios = [times[0][k] / times[best[k]][k] for k in range(runs)]
    return [statistics.median(t) for t in times], statistics.median(ratios), results


def main() -> None:
    import sqlglot

    import segql

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=0.05)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--engines", default="duckdb,sqlite,postgres,chdb,spark")
    args = p.parse_args()
    duck = crm.ensure(args.scale)
    folder = Path(tempfile.mkdtemp(prefix="segql-bench-"))
    files = _parquet(duck, folder)
    schema = crm.schema()
    rows: list[list[Any]] = []
    for engine in args.engines.split(","):
        t0 = time.perf_counter()
        cleanup: Callable[[], None] | None = None
        if engine == "spark":
            db = _spark(files)
        else:
            made = load(engine, duck, files, folder)
            if made is None:
                continue
            db = segql.connect(made[0])
            cleanup = made[1]
        print(f"{engine}: loaded in {time.perf_counter() - t0:.1f}s", flush=True)
        dialect = getattr(getattr(db, "adapter", None), "dialect", "duckdb")

        def run_sql(sql: str, db: Any = db) -> set[Any]:
            if hasattr(db, "adapter"):
                return {r[0] for r in db.adapter.rows(sql)}
            return {r[0] for r in db.con.execute(sql).fetchall()}

        for name, (expr, plans) in SEGMENTS.items():
            hand = [sqlglot.transpile(sql, read="duckdb", write=dialect)[0] for sql in plans]

            def ours(expr: str = expr, db: Any = db) -> set[Any]:
                return set(db.member_ids(expr, schema, as_of=AS_OF))

            fns: list[Callable[[], Any]] = [ours]
            for sql in hand:
                fns.append(lambda sql=sql: run_sql(sql))
            try:
                medians, ratio, results = interleaved(fns, args.runs)
            except Exception as e:  # a hand plan the engine cannot run
                rows.append([engine, name, None, None, None, f"n/a: {str(e).splitlines()[0][:60]}"])
                continue
            note = "" if all(r == results[0] for r in results[1:]) else "hand plan differs"
            rows.append([engine, name, len(results[0]), medians[0], min(medians[1:]), ratio, note])
        db.close()
        if cleanup is not None:
            cleanup()
    print(f"\nscale {args.scale:g}, {args.runs} paired rounds after a warm-up; seconds\n")
    print("| engine | segment | members | segql | best hand plan | segql / best (paired) | note |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        if r[2] is None:
            print(f"| {r[0]} | {r[1]} | | | | | {r[5]} |")
        else:
            print(f"| {r[0]} | {r[1]} | {r[2]:,} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.2f} | {r[6]} |")


if __name__ == "__main__":
    main()
