"""`segql snapshot` and `segql changes` (CONTRACT §6.4): membership written into the
user's database as intervals, and the entered / exited feed read back from it
(docs/snapshots.md)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from segql.tools.arguments import UsageError
from segql.tools.commands import _database, _load, _progress, _settings


def cmd_snapshot(args: argparse.Namespace) -> int:
    from segql.backends.duckdb.validation import sources
    from segql.core.diagnostics import Diagnostic, EngineError
    from segql.engines.url import kind_of

    settings = _settings(args)
    db = args.db
    if db is None and settings.project is not None and settings.project.db is not None:
        db = str(settings.project.db)
    if db is None:
        raise UsageError(
            "a snapshot is written into a database: give --db (a DuckDB file, "
            "postgresql://… or sqlite:///…)"
        )
    schema = _load(settings)
    kind, target = kind_of(str(db))
    # A new DuckDB file is made for schemas of `file:` sources only: with tables to read,
    # a missing file is a mistyped path, not a place to start.
    reads_tables = any(src.table is not None for src in sources(schema))
    if kind == "duckdb" and target and not Path(target).exists() and reads_tables:
        raise EngineError(
            Diagnostic(
                code="missing-database",
                message=f"database file `{target}` does not exist",
                hints=("pass the DuckDB file holding the schema's tables with --db",),
            )
        )
    args.db = db
    with _database(args, settings, schema, write=True) as conn, _progress("writing"):
        result = conn.snapshot(schema, args.expr, table=args.table, as_of=args.as_of)
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return 0
    print(f"snapshot at {result['as_of']} in {result['table']}")
    segs = result["segments"]
    width = max([len("segment"), *(len(s["segment"]) for s in segs)])
    print(f"{'segment':<{width}}  {'members':>9}  {'entered':>8}  {'exited':>8}")
    for s in segs:
        note = "" if s["written"] else "  (taken before: unchanged)"
        entered, exited = f"+{s['entered']:,}", f"-{s['exited']:,}"
        print(f"{s['segment']:<{width}}  {s['members']:>9,}  {entered:>8}  {exited:>8}{note}")
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    settings = _settings(args)
    schema = _load(settings)
    with _database(args, settings, schema) as conn, _progress("reading"):
        rows = conn.changes(schema, args.expr, since=args.since, until=args.until, table=args.table)
    print(render_changes(rows, args.format), end="")
    return 0


def render_changes(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["key", "segment", "change", "at"])
        for r in rows:
            w.writerow([r["key"], r["segment"], r["change"], r["at"]])
        return out.getvalue()
    if not rows:
        return "no changes\n"
    width = max([len("segment"), *(len(r["segment"]) for r in rows)])
    lines = [f"{'at':<20}  {'segment':<{width}}  {'change':<7}  key"]
    lines += [f"{r['at']:<20}  {r['segment']:<{width}}  {r['change']:<7}  {r['key']}" for r in rows]
    return "\n".join(lines) + "\n"
