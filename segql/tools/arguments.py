"""The `segql` command line's arguments: one argparse parser, argument types that give
clear usage errors, and the help texts."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    pass

SUPPORTED = "duckdb, postgres, sqlite, spark, clickhouse"
EXPERIMENTAL_NOTE = (
    "supported (executed by segql's tests): duckdb (default), postgres, sqlite. Any other "
    "sqlglot dialect (bigquery, snowflake, trino, spark, clickhouse, redshift, mysql, …) is "
    "experimental: transpiled by sqlglot, not executed by segql's tests"
)
FORMATS = ("csv", "jsonl", "parquet")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _as_of(text: str) -> dt.datetime:
    from segql.config.project import parse_as_of

    try:
        return parse_as_of(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"invalid --as-of {e}") from None


def _dialect(text: str) -> str:
    from segql.backends.sql.dialects import dialect_names

    names = dialect_names()
    if text.lower() in names:
        return text.lower()
    near = difflib.get_close_matches(text.lower(), names, n=1)
    hint = f"; did you mean `{near[0]}`?" if near else f" (supported: {SUPPORTED}; see --help)"
    raise argparse.ArgumentTypeError(f"unknown dialect `{text}`{hint}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 10**7:
        raise argparse.ArgumentTypeError(f"invalid timeout `{text}`: give seconds, e.g. 30")
    return value


def _limit(text: str) -> tuple[str, int]:
    from segql.core.limits import Limits

    names = [f.name for f in dataclasses.fields(Limits)]
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in names:
        near = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean `{near[0]}`?" if near else "; limits: " + ", ".join(names)
        raise argparse.ArgumentTypeError(f"invalid --limit `{text}`{hint}")
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid --limit `{text}`: give a positive integer")
    return name, number


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="segql",
        description="segql: a typed language for customer and contact segmentation.",
        epilog="Run `segql demo` for a tour on bundled example data, `segql init` to start a "
        "project. Docs: docs/cli.md",
    )
    from segql import __version__

    p.add_argument("--version", action="version", version=f"segql {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def project(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--project",
            "-p",
            type=Path,
            default=None,
            metavar="PATH",
            help="project file or its folder (default: segql.toml or pyproject.toml with "
            "[tool.segql], found from the current folder upwards)",
        )
        sp.add_argument("--no-project", action="store_true", help="ignore any project file found")
        sp.add_argument(
            "--schema", "-s", type=Path, default=None, help="schema file (default: the project's)"
        )
        sp.add_argument(
            "--catalog",
            "-c",
            action="append",
            default=None,
            type=Path,
            help="segment catalog file (repeatable; replaces the project's catalogs)",
        )
        sp.add_argument(
            "--limit",
            action="append",
            default=[],
            type=_limit,
            metavar="NAME=N",
            help="raise or lower an input limit, e.g. max_length=20000 (docs/language.md)",
        )

    def common(sp: argparse.ArgumentParser, *, db: bool) -> None:
        project(sp)
        sp.add_argument(
            "--as-of",
            type=_as_of,
            default=None,
            help="evaluate at this instant (ISO date or timestamp; default: the project's, "
            "else now, UTC)",
        )
        if db:
            sp.add_argument(
                "--db",
                default=None,
                metavar="DB",
                help="a DuckDB file (not needed for file: sources), or a URL: duckdb:///path, "
                "postgresql://…, sqlite:///path, spark:local[2], sc://host:port, chdb:",
            )
            sp.add_argument(
                "--allow-files",
                action="append",
                default=[],
                type=Path,
                metavar="DIR",
                help="a folder file: sources may be read from, besides the schema's (repeatable)",
            )
            sp.add_argument(
                "--timeout",
                type=_seconds,
                default=None,
                metavar="SECONDS",
                help="stop a query running longer than this",
            )

    def export(sp: argparse.ArgumentParser) -> None:
        """Where and how rows are written (members, assign)."""
        sp.add_argument("--format", "-f", choices=FORMATS, default=None)
        sp.add_argument(
            "--output",
            "-o",
            default=None,
            metavar="FILE",
            help="file to write (`-` or none: stdout); the format follows its suffix",
        )

    sp = sub.add_parser(
        "sql",
        help="print the SQL of a segment",
        description="Print one SELECT returning the key of every member once.",
        epilog=EXPERIMENTAL_NOTE,
    )
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    common(sp, db=False)
    sp.add_argument(
        "--dialect", "-d", type=_dialect, default=None, help=f"SQL dialect ({SUPPORTED}, …)"
    )

    sp = sub.add_parser(
        "count", help="count the members of a segment, or of several at once (one pass)"
    )
    sp.add_argument(
        "expr",
        nargs="*",
        help="an expression, or @name for a catalog segment; several @names (segments or "
        "segmentations) are counted in one query",
    )
    sp.add_argument(
        "--all", action="store_true", help="every segment and segmentation of the catalog"
    )
    sp.add_argument(
        "--format", choices=("table", "json"), default="table", help="for several segments"
    )
    common(sp, db=True)

    sp = sub.add_parser("members", help="export the members of a segment")
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    common(sp, db=True)
    export(sp)
    sp.add_argument(
        "--fields",
        default="",
        help="values to include besides the key, comma-separated: profile fields, traits, "
        "segmentations, or `EXPR as NAME`",
    )
    sp.add_argument(
        "--channel",
        default=None,
        metavar="NAME",
        help="only members this channel (schema `channels:`) reaches, with its address; "
        "says on stderr how many were left out and why",
    )
    sp.add_argument(
        "--hash",
        choices=("sha256",),
        default=None,
        help="with --channel: the address as the SHA-256 of its normalized form",
    )

    sp = sub.add_parser(
        "profile",
        help="size, share and metric statistics per segment or class; η² per segmentation",
    )
    sp.add_argument("targets", nargs="+", help="@segment, @segmentation (one group per class), "
                    "or an expression")  # fmt: skip
    sp.add_argument(
        "--metrics",
        "-m",
        required=True,
        help='numeric values, comma-separated, each EXPR or `EXPR as NAME`: "total_spent, '
        'purchases, days_since(last_order) as idle"',
    )
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("overlap", help="sizes, pairwise intersections and Jaccard of segments")
    sp.add_argument("targets", nargs="*", help="@segments (or expressions)")
    sp.add_argument("--all", action="store_true", help="every segment of the catalog")
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("explain", help="why one contact is in a segment or not, clause by clause")
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    sp.add_argument("--contact", "-k", required=True, metavar="KEY", help="the contact's key")
    sp.add_argument("--format", choices=("text", "json"), default="text")
    common(sp, db=True)

    sp = sub.add_parser(
        "report",
        help="one self-contained HTML page: sizes, history, overlaps, segmentations' profiles",
    )
    sp.add_argument("--output", "-o", default="report.html", metavar="FILE",
                    help="the page to write (default: report.html; `-`: stdout)")  # fmt: skip
    sp.add_argument(
        "--metrics",
        "-m",
        default=None,
        help="numeric values to profile the segmentations by (default: the schema's numeric "
        "traits)",
    )
    sp.add_argument("--json", action="store_true", help="write the page's data as JSON instead")
    sp.add_argument("--history", nargs="+", default=None, metavar="EXPR",
                    help="add a size history chart of each (@segments or expressions)")  # fmt: skip
    sp.add_argument("--from", dest="start", type=_as_of, default=None, metavar="T",
                    help="the first point (default: about 26 weeks before --to)")  # fmt: skip
    sp.add_argument("--to", dest="end", type=_as_of, default=None, metavar="T",
                    help="the history's last point (default: --as-of)")  # fmt: skip
    sp.add_argument("--every", default=None, metavar="D",
                    help="the history's step, a duration (default 1w)")  # fmt: skip
    common(sp, db=True)

    sp = sub.add_parser("history", help="a segment's size over time, with who entered and left")
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    sp.add_argument("--from", dest="start", type=_as_of, required=True, metavar="T")
    sp.add_argument("--to", dest="end", type=_as_of, default=None, metavar="T",
                    help="default: --as-of (the project's, else now)")  # fmt: skip
    sp.add_argument("--every", default="1w", metavar="D", help="a duration (default 1w)")
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("diff", help="who entered, left and stayed between two instants")
    sp.add_argument("expr", help="an expression, or @name for a catalog segment")
    sp.add_argument("--against", type=_as_of, required=True, metavar="T",
                    help="the earlier instant")  # fmt: skip
    sp.add_argument("--members", action="store_true", help="list the keys of each")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("assign", help="an experiment's audience with each member's arm")
    sp.add_argument("name", help="the experiment (from the catalog's `experiments:`)")
    export(sp)
    common(sp, db=True)

    sp = sub.add_parser(
        "results", help="an experiment's conversions or means per arm, lift, p-value and SRM"
    )
    sp.add_argument("name", help="the experiment (from the catalog's `experiments:`)")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("power", help="contacts per arm needed to detect a lift in a rate")
    sp.add_argument("--baseline", type=float, required=True, metavar="RATE",
                    help="the control's conversion rate, e.g. 0.05")  # fmt: skip
    sp.add_argument("--lift", type=float, required=True, metavar="L",
                    help="the relative lift to detect, e.g. 0.1 for +10%%")  # fmt: skip
    sp.add_argument("--alpha", type=float, default=0.05, help="false-positive rate (0.05)")
    sp.add_argument("--power", type=float, default=0.8, help="chance to detect it (0.8)")
    sp.add_argument("--arms", type=int, default=2, help="arms of equal size (2)")
    sp = sub.add_parser(
        "snapshot", help="write segments' membership into a table of the database, as intervals"
    )
    sp.add_argument(
        "expr",
        nargs="+",
        metavar="TARGET",
        help="@segment, @segmentation (a segment per class) or `EXPR as NAME`",
    )
    sp.add_argument("--table", default="segql_membership", metavar="NAME",
                    help="the table to keep membership in (default segql_membership; "
                    "schema.table allowed), beside NAME_runs")  # fmt: skip
    sp.add_argument("--format", choices=("table", "json"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("changes", help="who entered and exited segments, from snapshots")
    sp.add_argument("expr", nargs="+", metavar="SEGMENT",
                    help="@segment or @segmentation (its classes), as snapshotted")  # fmt: skip
    sp.add_argument("--since", type=_as_of, required=True, metavar="T",
                    help="changes after this instant")  # fmt: skip
    sp.add_argument("--until", type=_as_of, default=None, metavar="T",
                    help="and up to this one, inclusive (default: all)")  # fmt: skip
    sp.add_argument("--table", default="segql_membership", metavar="NAME")
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table")
    common(sp, db=True)

    sp = sub.add_parser("check", help="check a schema and its catalogs")
    project(sp)
    sp.add_argument("--json", action="store_true", help="diagnostics as JSON lines")

    sp = sub.add_parser("fmt", help="rewrite expressions in canonical form")
    sp.add_argument(
        "files", nargs="*", type=Path, help="schema or catalog files (default: the project's)"
    )
    sp.add_argument("--check", action="store_true", help="only report files that would change")

    sp = sub.add_parser("repl", help="interactive session")
    common(sp, db=True)

    sp = sub.add_parser("init", help="start a project: a commented schema, catalog and segql.toml")
    sp.add_argument("folder", nargs="?", type=Path, default=Path("."), help="default: here")

    sp = sub.add_parser("demo", help="build the bundled example data and show segql at work")
    sp.add_argument(
        "--path", action="store_true", help="only print the demo's folder (building it if needed)"
    )
    return p


# ---------------------------------------------------------------------------------------
# Output
