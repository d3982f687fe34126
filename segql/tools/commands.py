"""The `segql` commands: settings from the project file and options, then one function
per command; diagnostics go to stderr, in colour only on a terminal."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from segql.ir.definitions import definitions
from segql.tools.arguments import UsageError

if TYPE_CHECKING:
    from segql.config.project import Project
    from segql.core.diagnostics import Diagnostic
    from segql.core.limits import Limits
    from segql.core.schema import Schema


def _color(stream: IO[str]) -> bool:
    # no-color.org: a NO_COLOR that is set and not empty turns colour off.
    return stream.isatty() and not os.environ.get("NO_COLOR")


def report(diags: Sequence[Diagnostic], stream: IO[str] | None = None) -> None:
    from segql.core.diagnostics import render

    stream = stream or sys.stderr
    color = _color(stream)
    for d in _sorted(diags):
        print(render(d, color=color), file=stream)


def _sorted(diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Errors before warnings, each by file and position (stable otherwise)."""
    return sorted(diags, key=lambda d: (not d.is_error, d.file or "", d.line, d.column, d.end_line))


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


# ---------------------------------------------------------------------------------------
# Settings: the project file, then the options


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    schema: Path
    catalogs: tuple[Path, ...]
    project: Project | None
    limits: Limits


def _project(args: argparse.Namespace) -> Project | None:
    from segql.config.project import find_project, load_project

    if getattr(args, "no_project", False):
        if args.project is not None:
            raise UsageError("--project and --no-project contradict each other")
        return None
    if args.project is not None:
        if not args.project.exists():
            raise UsageError(f"no project file at `{args.project}`")
        return load_project(args.project)
    found = find_project()
    return load_project(found) if found is not None else None


def _settings(args: argparse.Namespace) -> Settings:
    from segql.core.limits import Limits

    proj = _project(args)
    schema = args.schema or (proj.schema if proj else None)
    if schema is None:
        where = f" (the project file {proj.path} names none)" if proj else ""
        raise UsageError(
            f"no schema{where}: pass --schema FILE, or run inside a project "
            "(`segql init` creates one)"
        )
    catalogs = tuple(args.catalog) if args.catalog is not None else (proj.catalogs if proj else ())
    chosen = dict(proj.limits if proj else ())
    chosen.update(dict(args.limit))  # options override the project file
    limits = Limits(**chosen)
    for name in ("as_of", "dialect"):
        if getattr(args, name, None) is None and proj is not None:
            setattr(args, name, getattr(proj, name))
    return Settings(schema=schema, catalogs=catalogs, project=proj, limits=limits)


def _load(settings: Settings, *, strict: bool = False) -> Schema:
    """The schema and catalogs. Not strict: a broken catalog segment is skipped with a
    warning (only the segments a command uses matter); `check` is strict."""
    from segql.config.loader import load_schema

    schema = load_schema(
        settings.schema, catalogs=settings.catalogs, strict=strict, limits=settings.limits
    )
    report(schema.warnings)
    return schema


def _expr(text: str, schema: Schema, limits: Limits) -> Any:
    """An expression, or the typed tree of ``@name``."""
    from segql.core.diagnostics import CheckError, Diagnostic

    if text.startswith("@"):
        name = text[1:]
        if name in definitions(schema).segments:
            return definitions(schema).segments[name]
        if name in schema.broken:
            raise CheckError(schema.broken[name])
        near = difflib.get_close_matches(name, schema.segments, n=1)
        hints: tuple[str, ...] = (f"did you mean `@{near[0]}`?",) if near else ()
        if not schema.segments:
            hints = ("no segments are defined; pass a catalog with --catalog",)
        # a string value, not a condition: name one of its values
        kind: str = ""
        values: tuple[str, ...] = ()
        if name in schema.segmentations:
            kind, values = "a segmentation", schema.segmentations[name].values
        elif name in schema.experiments:
            kind, values = "an experiment", tuple(a.name for a in schema.experiments[name].arms)
        if kind:
            raise CheckError(
                Diagnostic(
                    code="unknown-segment",
                    message=f"`{name}` is {kind}, not a segment",
                    hints=(f"give one of its values as a condition: \"{name} = '{values[0]}'\"",),
                )
            )
        raise CheckError(
            Diagnostic(code="unknown-segment", message=f"unknown segment `{name}`", hints=hints)
        )
    from segql.checker import check, typed

    warnings = [d for d in check(text, schema, limits=limits) if not d.is_error]
    report(warnings)
    return typed(text, schema, limits=limits)


def _database(
    args: argparse.Namespace, settings: Settings, schema: Schema, *, write: bool = False
) -> Any:
    from segql.engines import connect
    from segql.engines.url import is_path

    db = args.db
    if db is None and settings.project is not None and settings.project.db is not None:
        db = str(settings.project.db)
    roots = [*args.allow_files, *(settings.project.allow_files if settings.project else ())]
    if roots:
        base = [schema.path.parent] if schema.path is not None else []
        if settings.project is not None:
            base.append(settings.project.folder)
        roots = base + roots
    elif settings.project is not None and schema.path is not None:
        roots = [schema.path.parent, settings.project.folder]
    if db is not None and not is_path(db):  # a URL: PostgreSQL, SQLite, Spark, ClickHouse
        return connect(
            db, timeout=args.timeout, limits=settings.limits, file_roots=roots or None, write=write
        )
    from segql.engine import Database

    return Database(
        Path(db) if db is not None else None,
        file_roots=roots or None,
        timeout=args.timeout,
        limits=settings.limits,
        read_only=not write,
    )


# ---------------------------------------------------------------------------------------
# Commands


def cmd_sql(args: argparse.Namespace) -> int:
    from segql.pipeline import to_sql

    settings = _settings(args)
    schema = _load(settings)
    texpr = _expr(args.expr, schema, settings.limits)
    print(
        to_sql(
            texpr,
            schema,
            dialect=args.dialect or "duckdb",
            as_of=args.as_of,
            limits=settings.limits,
        )
    )
    return 0


def cmd_count(args: argparse.Namespace) -> int:
    settings = _settings(args)
    targets: list[str] = list(args.expr)
    if args.all and targets:
        raise UsageError("give segments or --all, not both")
    if not args.all and not targets:
        raise UsageError("give an expression, @names, or --all")
    schema = _load(settings)
    single = len(targets) == 1 and not (
        targets[0].startswith("@") and targets[0][1:] in schema.segmentations
    )
    if single and not args.all:
        texpr = _expr(targets[0], schema, settings.limits)
        with _database(args, settings, schema) as db, _progress("counting"):
            n = db.count(texpr, schema, as_of=args.as_of)
        print(n)
        return 0
    plain = [t for t in targets if not t.startswith("@")]
    if plain:
        raise UsageError(
            f"`{plain[0]}`: to count several at once, name catalog segments or segmentations "
            "with @ (`segql count @vip @value_class`)"
        )
    with _database(args, settings, schema) as db, _progress("counting"):
        counts = db.counts(schema, None if args.all else targets, as_of=args.as_of)
    _print_counts(counts, args.format)
    return 0


def _print_counts(counts: dict[str, Any], fmt: str) -> None:
    total = counts["contacts"]
    if fmt == "json":
        out = {
            "contacts": total,
            "segments": {k: v for k, v in counts.items() if k != "contacts" and isinstance(v, int)},
            "segmentations": {k: v for k, v in counts.items() if isinstance(v, dict)},
        }
        print(json.dumps(out, indent=2))
        return
    rows: list[tuple[str, int]] = []
    for name, v in counts.items():
        if name == "contacts":
            continue
        if isinstance(v, dict):
            rows += [(f"{name} = {cls}", n) for cls, n in v.items()]
        else:
            rows.append((name, v))
    width = max([len(r[0]) for r in rows] + [len("(contacts)")])
    digits = max(len(f"{total:,}"), 7)
    print(f"{'segment':<{width}}  {'members':>{digits}}  {'share':>6}")
    for label, n in rows:
        share = f"{100 * n / total:.1f}%" if total else "-"
        print(f"{label:<{width}}  {n:>{digits},}  {share:>6}")
    print(f"{'(contacts)':<{width}}  {total:>{digits},}")


def _output(args: argparse.Namespace) -> tuple[Path | None, str]:
    """Where to write and in which format, checked before anything runs."""
    from segql.engine import ExportFormat

    if args.output is not None and "\x00" in args.output:
        raise UsageError("an output file name cannot hold a NUL character")
    out = None if args.output in (None, "-") else Path(args.output)
    fmt = args.format
    if out is not None:
        if out.is_dir():
            raise UsageError(f"`{out}` is a folder; give a file name with -o")
        guessed = ExportFormat.of_path(out)
        if fmt is None:
            if guessed is None:
                suffix = out.suffix or "(none)"
                hint = " (JSON Lines files end in .jsonl)" if suffix.lower() == ".json" else ""
                raise UsageError(
                    f"cannot tell the format of `{out}` from its suffix {suffix}{hint}; "
                    "use .csv, .jsonl or .parquet, or --format"
                )
            fmt = guessed.value
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise UsageError(f"cannot write `{out}`: the folder `{parent}` does not exist")
        if not os.access(parent, os.W_OK):
            raise UsageError(f"cannot write `{out}`: the folder `{parent}` is not writable")
        if out.exists() and not os.access(out, os.W_OK):
            raise UsageError(f"cannot write `{out}`: the file is read-only")
    fmt = fmt or "csv"
    if fmt == "parquet" and out is None and sys.stdout.isatty():
        raise UsageError("Parquet is binary: write it to a file with -o FILE, or pipe it")
    return out, fmt


def cmd_members(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out, fmt = _output(args)
    schema = _load(settings)
    texpr = _expr(args.expr, schema, settings.limits)
    from segql.engines.selection import split_fields

    fields = split_fields(args.fields)
    if args.hash is not None and args.channel is None:
        raise UsageError("--hash hashes a channel's address: give --channel too")
    reach = None
    channel = {"channel": args.channel, "hash": args.hash} if args.channel is not None else {}
    with _database(args, settings, schema) as db, _progress("exporting"):
        if args.channel is not None:
            reach = db.reach(texpr, schema, args.channel, as_of=args.as_of)
        target = out if out is not None else sys.stdout.buffer
        sys.stdout.flush()
        n = db.export(texpr, schema, target, format=fmt, as_of=args.as_of, fields=fields, **channel)
        sys.stdout.buffer.flush()
    if reach is not None:
        from segql.tools.privacy import reach_summary

        print(reach_summary(reach, n), file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from segql.core.diagnostics import SegqlError

    settings = _settings(args)
    try:
        from segql.config.loader import load_schema

        schema = load_schema(settings.schema, catalogs=settings.catalogs, limits=settings.limits)
    except SegqlError as e:
        _emit(list(e.diagnostics), args.json)
        return 1
    _emit(schema.warnings, args.json)
    if not args.json:
        counts = [
            (len(schema.entity.fields), "field"),
            (len(schema.streams), "stream"),
            (len(schema.traits), "trait"),
            (len(schema.segments), "segment"),
        ]
        print("ok: " + ", ".join(_plural(n, noun) for n, noun in counts))
    return 0


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _emit(diags: Sequence[Diagnostic], as_json: bool) -> None:
    if as_json:
        for d in _sorted(diags):
            print(d.to_json())
    else:
        report(diags)


def cmd_fmt(args: argparse.Namespace) -> int:
    from segql.config.editing import format_path, write_formatted
    from segql.core.diagnostics import SegqlError

    if not args.files:
        args.project, args.no_project = None, False
        proj = _project(args)
        if proj is not None:
            args.files = [*([proj.schema] if proj.schema else []), *proj.catalogs]
        if not args.files:
            raise UsageError("no files: name them, or run inside a project (segql.toml)")
    changed = 0
    failed = False
    for path in args.files:
        try:
            result = format_path(path)
        except SegqlError as e:
            report(e.diagnostics)
            failed = True
            continue
        report(result.notes)  # expressions left as written (comments inside them)
        if not result.changed:
            continue
        changed += 1
        if args.check:
            print(f"would reformat {path}")
            continue
        try:
            write_formatted(path, result)
        except SegqlError as e:
            report(e.diagnostics)
            failed = True
            continue
        print(f"reformatted {path}")
    if failed:
        return 1
    if args.check and changed:
        return 1
    if not changed:
        print("all files are formatted" if len(args.files) > 1 else f"{args.files[0]} is formatted")
    return 0


def cmd_repl(args: argparse.Namespace) -> int:
    from segql.tools.repl.catalog_edit import catalogs_to_load
    from segql.tools.repl.terminal import run_repl

    settings = _settings(args)
    catalog = settings.catalogs[-1] if settings.catalogs else None
    # The last catalog, where :save writes, may not exist yet: the first :save creates it.
    settings = dataclasses.replace(settings, catalogs=tuple(catalogs_to_load(settings.catalogs)))
    schema = _load(settings)
    with _database(args, settings, schema) as db:
        return run_repl(schema, db, catalog_path=catalog, as_of=args.as_of)


def cmd_init(args: argparse.Namespace) -> int:
    from segql.tools.starter import write_starter

    return write_starter(args.folder)


def cmd_demo(args: argparse.Namespace) -> int:
    from segql.tools.demo.run import prepare, run_demo

    if args.path:
        print(prepare())
        return 0
    return run_demo()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sql": cmd_sql,
    "count": cmd_count,
    "members": cmd_members,
    "check": cmd_check,
    "fmt": cmd_fmt,
    "repl": cmd_repl,
    "init": cmd_init,
    "demo": cmd_demo,
}
