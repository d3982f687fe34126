"""The `segql` command line (CONTRACT §4.2).

Exit codes: 0 ok, 1 user error (syntax, type, data), 2 usage. Errors go to stderr with the
source line and a caret, in colour only on a terminal. Heavy modules (sqlglot, duckdb,
prompt_toolkit) are imported by the commands that need them, so `segql --help` is quick.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .schema import Schema

__all__ = ["main"]

SUPPORTED = "duckdb, postgres, sqlite"
EXPERIMENTAL_NOTE = (
    "supported (executed by segql's tests): duckdb (default), postgres, sqlite. Any other "
    "sqlglot dialect (bigquery, snowflake, trino, spark, clickhouse, redshift, mysql, …) is "
    "experimental: transpiled by sqlglot, not executed by segql's tests"
)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _as_of(text: str) -> dt.datetime:
    try:
        if "T" in text or " " in text.strip():
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            d = dt.date.fromisoformat(text)
            value = dt.datetime(d.year, d.month, d.day)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --as-of {text!r}: use an ISO date (2026-06-01) or timestamp "
            "(2026-06-01T12:00:00, UTC unless it has a zone)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="segql",
        description="segql: a typed language for customer and contact segmentation.",
        epilog="Run `segql demo` for a tour on bundled example data. Docs: docs/cli.md",
    )
    from . import __version__

    p.add_argument("--version", action="version", version=f"segql {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def common(sp: argparse.ArgumentParser, *, db: bool) -> None:
        sp.add_argument("--schema", "-s", required=True, type=Path, help="schema file")
        sp.add_argument(
            "--catalog",
            "-c",
            action="append",
            default=[],
            type=Path,
            help="segment catalog file (repeatable)",
        )
        sp.add_argument(
            "--as-of",
            type=_as_of,
            default=None,
            help="evaluate at this instant (ISO date or timestamp; default: now, UTC)",
        )
        if db:
            sp.add_argument(
                "--db",
                type=Path,
                default=None,
                help="DuckDB database file (not needed when the schema uses file: sources)",
            )

    sp = sub.add_parser(
        "sql",
        help="print the SQL of a segment",
        description="Print one SELECT returning the key of every member once.",
        epilog=EXPERIMENTAL_NOTE,
    )
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    common(sp, db=False)
    sp.add_argument("--dialect", "-d", default="duckdb", help=f"SQL dialect ({SUPPORTED}, …)")

    sp = sub.add_parser("count", help="count the members of a segment")
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    common(sp, db=True)

    sp = sub.add_parser("members", help="export the members of a segment")
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    common(sp, db=True)
    sp.add_argument("--format", "-f", choices=["csv", "jsonl", "parquet"], default=None)
    sp.add_argument("--output", "-o", type=Path, default=None, help="file (default: stdout)")
    sp.add_argument(
        "--fields",
        default="",
        help="comma-separated profile fields to include besides the key",
    )

    sp = sub.add_parser("check", help="check a schema and its catalogs")
    sp.add_argument("--schema", "-s", required=True, type=Path)
    sp.add_argument("--catalog", "-c", action="append", default=[], type=Path)
    sp.add_argument("--json", action="store_true", help="diagnostics as JSON lines")

    sp = sub.add_parser("fmt", help="rewrite expressions in canonical form")
    sp.add_argument("files", nargs="+", type=Path, help="schema or catalog files")
    sp.add_argument("--check", action="store_true", help="only report files that would change")

    sp = sub.add_parser("repl", help="interactive session")
    common(sp, db=True)

    sub.add_parser("demo", help="build the bundled example data and show segql at work")
    return p


# ---------------------------------------------------------------------------------------


def _color(stream: IO[str]) -> bool:
    return stream.isatty() and os.environ.get("NO_COLOR") is None


def _report(diags: Sequence[Diagnostic], stream: IO[str] = sys.stderr) -> None:
    from .diagnostics import render

    color = _color(stream)
    for d in diags:
        print(render(d, color=color), file=stream)


def _load(args: argparse.Namespace) -> Schema:
    from .config import load_schema

    schema = load_schema(args.schema, catalogs=args.catalog)
    _report(schema.warnings)
    return schema


def _expr(text: str, schema: Schema) -> Any:
    """An expression, or the typed tree of ``@name``."""
    from .diagnostics import CheckError, Diagnostic

    if text.startswith("@"):
        name = text[1:]
        if name in schema.segments_ir:
            return schema.segments_ir[name]
        import difflib

        near = difflib.get_close_matches(name, schema.segments, n=1)
        hints: tuple[str, ...] = (f"did you mean `@{near[0]}`?",) if near else ()
        if not schema.segments:
            hints = ("no segments are defined; pass a catalog with --catalog",)
        raise CheckError(
            Diagnostic(code="unknown-segment", message=f"unknown segment `{name}`", hints=hints)
        )
    from .checker import check, typed

    warnings = [d for d in check(text, schema) if not d.is_error]
    _report(warnings)
    return typed(text, schema)


@contextmanager
def _progress(label: str) -> Iterator[None]:
    """Tell a person at a terminal that a run taking more than two seconds is alive."""
    done = threading.Event()
    start = time.monotonic()
    show = sys.stderr.isatty()

    def tick() -> None:
        while not done.wait(0.5):
            elapsed = time.monotonic() - start
            if show and elapsed > 2:
                print(f"\r{label}… {elapsed:.0f}s", end="", file=sys.stderr, flush=True)

    t = threading.Thread(target=tick, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()
        if show and time.monotonic() - start > 2:
            print("\r" + " " * (len(label) + 12) + "\r", end="", file=sys.stderr, flush=True)


def _database(args: argparse.Namespace) -> Any:
    from .engine import Database

    return Database(args.db)


def cmd_sql(args: argparse.Namespace) -> int:
    from .sql import to_sql

    schema = _load(args)
    print(to_sql(_expr(args.expr, schema), schema, dialect=args.dialect, as_of=args.as_of))
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    schema = _load(args)
    texpr = _expr(args.expr, schema)
    with _database(args) as db, _progress("counting"):
        n = db.count(texpr, schema, as_of=args.as_of)
    print(n)
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    schema = _load(args)
    texpr = _expr(args.expr, schema)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    fmt = args.format
    if fmt is None:
        suffix = args.output.suffix.lower().lstrip(".") if args.output else ""
        fmt = suffix if suffix in ("csv", "jsonl", "parquet") else "csv"
    if fmt == "parquet" and args.output is None:
        raise UsageError("--format parquet needs --output FILE (Parquet is binary)")
    with _database(args) as db, _progress("exporting"):
        table = db.members(texpr, schema, as_of=args.as_of, fields=fields)
    _write_table(table, fmt, args.output)
    return 0


def _write_table(table: Any, fmt: str, output: Path | None) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert output is not None
        pq.write_table(table, str(output))
        return
    rows = table.to_pylist()
    with contextlib.ExitStack() as stack:
        out: IO[str] = (
            stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
            if output
            else sys.stdout
        )
        if fmt == "csv":
            import csv

            writer = csv.writer(out)
            writer.writerow(table.column_names)
            for row in rows:
                writer.writerow([_csv_value(row[c]) for c in table.column_names])
        else:
            import json

            for row in rows:
                out.write(json.dumps(row, default=_json_default, ensure_ascii=False) + "\n")


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return v


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v)


def cmd_check(args: argparse.Namespace) -> int:
    from .diagnostics import SegqlError

    try:
        schema = _load_quiet(args)
    except SegqlError as e:
        _emit(list(e.diagnostics), args.json)
        return 1
    _emit(schema.warnings, args.json)
    if not args.json:
        n = len(schema.segments)
        print(
            f"ok: {len(schema.entity.fields)} fields, {len(schema.streams)} streams, "
            f"{len(schema.traits)} traits, {n} segment{'s' if n != 1 else ''}"
        )
    return 0


def _load_quiet(args: argparse.Namespace) -> Schema:
    from .config import load_schema

    return load_schema(args.schema, catalogs=args.catalog)


def _emit(diags: Sequence[Diagnostic], as_json: bool) -> None:
    if as_json:
        for d in diags:
            print(d.to_json())
    else:
        _report(diags)


def cmd_fmt(args: argparse.Namespace) -> int:
    from .fmtfiles import format_file

    changed = 0
    failed = False
    from .diagnostics import SegqlError

    for path in args.files:
        try:
            new, old = format_file(path)
        except SegqlError as e:
            _report(e.diagnostics)
            failed = True
            continue
        if new == old:
            continue
        changed += 1
        if args.check:
            print(f"would reformat {path}")
        else:
            path.write_text(new, encoding="utf-8")
            print(f"reformatted {path}")
    if failed:
        return 1
    if args.check and changed:
        return 1
    if not changed:
        print("all files are formatted" if len(args.files) > 1 else f"{args.files[0]} is formatted")
    return 0


def cmd_repl(args: argparse.Namespace) -> int:
    from .repl import run_repl

    schema = _load(args)
    catalog = args.catalog[-1] if args.catalog else None
    with _database(args) as db:
        return run_repl(schema, db, catalog_path=catalog, as_of=args.as_of)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo.run import run_demo

    return run_demo()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sql": cmd_sql,
    "count": cmd_count,
    "members": cmd_members,
    "check": cmd_check,
    "fmt": cmd_fmt,
    "repl": cmd_repl,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .diagnostics import SegqlError

    try:
        return COMMANDS[args.command](args)
    except SegqlError as e:
        _report(e.diagnostics)
        return 1
    except UsageError as e:
        print(f"segql {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
