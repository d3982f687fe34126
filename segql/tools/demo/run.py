"""`segql demo`: the example shop, end to end, with zero set-up.

Generates the deterministic example data on first use (into the cache directory), writes
the schema and catalog from ``examples/shop`` and a project file (segql.toml, with the
demo's as_of) beside it, runs every catalog segment on the embedded DuckDB, prints a
table, shows one segment's SQL for two dialects, and says how to go on from there.

Files the user changed are kept: the demo remembers what it wrote (``.segql-demo.json``)
and replaces a file only while it is still exactly that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from segql.ir.definitions import definitions
from segql.tools.demo.generate import AS_OF

if TYPE_CHECKING:
    from segql.tools.report_history import HistoryRequest

__all__ = ["AS_OF", "demo_files", "prepare", "run_demo"]

FILES = ("schema.yaml", "segments.yaml")
MANIFEST = ".segql-demo.json"
SHOWN_SEGMENT = "cart_abandoners"


def _project_text(as_of: dt.datetime) -> str:
    stamp = as_of.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "# segql project file for the demo shop: every segql command run in this folder\n"
        "# (or with --project pointing here) uses these defaults.\n"
        'schema = "schema.yaml"\n'
        'catalogs = ["segments.yaml"]\n'
        "# The data are the Parquet files beside this file (`file:` sources): no database.\n"
        "# The demo's data end on this day; segments are evaluated at this instant.\n"
        f'as_of = "{stamp}"\n'
    )


def demo_files() -> dict[str, str]:
    """The bundled schema, catalog and project file: packaged copies first, then the
    checkout's."""
    out: dict[str, str] = {}
    packaged = resources.files("segql.tools.demo").joinpath("files")
    source = Path(__file__).resolve().parents[3] / "examples" / "shop"
    for name in FILES:
        res = packaged.joinpath(name)
        if res.is_file():
            out[name] = res.read_text(encoding="utf-8")
        else:
            out[name] = (source / name).read_text(encoding="utf-8")
    out["segql.toml"] = _project_text(AS_OF)
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare(cache_dir: Path | None = None, *, notes: list[str] | None = None) -> Path:
    """The demo directory: generated data plus the schema, catalog and project file.

    A file the user changed since the demo wrote it is kept (a note says so)."""
    from segql.core.fsutil import write_atomic
    from segql.tools.demo.generate import ensure_demo_data

    target = ensure_demo_data(cache_dir)
    manifest_path = target / MANIFEST
    try:
        written = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(written, dict):
            written = {}
    except (OSError, ValueError):
        written = {}
    changed = False
    for name, text in demo_files().items():
        path = target / name
        try:
            current: str | None = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        except (OSError, UnicodeDecodeError):
            current = ""  # unreadable: the user's business, keep it
        if current == text:
            if written.get(name) != _digest(text):
                written[name] = _digest(text)
                changed = True
            continue
        if current is None or _digest(current) == written.get(name):
            write_atomic(path, text)
            written[name] = _digest(text)
            changed = True
        elif notes is not None:
            notes.append(f"kept your changes to {path} (delete it to get the original back)")
    if changed:
        write_atomic(manifest_path, json.dumps(written, indent=2, sort_keys=True) + "\n")
    return target


def run_demo(out: IO[str] | None = None, cache_dir: Path | None = None) -> int:
    from segql.config.loader import load_schema
    from segql.config.project import load_project
    from segql.engine import Database
    from segql.pipeline import to_sql

    out = out or sys.stdout
    start = time.perf_counter()
    print("segql demo — a small online shop", file=out)
    notes: list[str] = []
    folder = prepare(cache_dir, notes=notes)
    took = time.perf_counter() - start
    print(f"data: {folder}  (ready in {took:.1f}s)", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    project = load_project(folder / "segql.toml")
    as_of = project.as_of or AS_OF
    assert project.schema is not None
    schema = load_schema(project.schema, catalogs=project.catalogs, strict=False)
    for w in schema.warnings:
        print(w, file=sys.stderr)
    print(f"as of {as_of:%Y-%m-%d %H:%M} UTC (set in {folder / 'segql.toml'})\n", file=out)
    rows: list[tuple[str, int, str]] = []
    usable = [n for n in schema.segments if n in definitions(schema).segments]
    with Database(file_roots=[folder]) as db:
        counts = db.counts(schema, usable, as_of=as_of)  # every segment in one query
        total = counts["contacts"]
        rows = [(n, counts[n], schema.segments[n].description or "") for n in usable]
        profiled = (
            db.profile(schema, [f"@{CLASSES}"], PROFILE_METRICS, as_of=as_of)
            if CLASSES in definitions(schema).segmentations
            else None
        )
        report, page = _write_report(db, schema, as_of, folder, history=_history(schema))
        experiment = (
            db.results(schema, EXPERIMENT, as_of=as_of)
            if EXPERIMENT in definitions(schema).experiments
            else None
        )
        audience = _audience(db, schema, as_of)
    width = max([len(r[0]) for r in rows] + [7])
    print(f"{'segment':<{width}}  {'members':>8}  {'share':>6}  description", file=out)
    print(f"{'-' * width}  {'-' * 8}  {'-' * 6}  {'-' * 11}", file=out)
    for name, n, desc in rows:
        share = 100.0 * n / total if total else 0.0
        print(f"{name:<{width}}  {n:>8,}  {share:>5.1f}%  {desc}", file=out)
    print(f"\n{total:,} contacts in all.\n", file=out)
    if profiled is not None:
        _print_classes(profiled, out)
    if experiment is not None:
        _print_experiment(experiment, out)
    if page["history"] is not None:
        _print_history(page["history"], out)
    shown = (
        SHOWN_SEGMENT
        if SHOWN_SEGMENT in definitions(schema).segments
        else next(iter(rows), ("",))[0]
    )
    if shown:
        seg = schema.segments[shown]
        print(f"Segment `{shown}`:\n", file=out)
        for line in seg.text.strip().splitlines():
            print(f"    {line}", file=out)
        for dialect in ("postgres", "bigquery"):
            label = "supported" if dialect == "postgres" else "experimental"
            print(f"\nas {dialect} SQL ({label}):\n", file=out)
            print(
                to_sql(definitions(schema).segments[shown], schema, dialect=dialect, as_of=as_of),
                file=out,
            )
    if audience is not None:
        print(f"\n{audience}", file=out)
    print(
        "\nThe demo's folder is a segql project (segql.toml sets the schema, the catalog and\n"
        "the as_of), so inside it no options are needed:\n\n"
        f"    cd {folder}\n"
        "    segql repl\n"
        "    segql count 'purchases >= 3 and last_order > 90d'\n"
        "    segql members @vip --fields email,total_spent -o vip.csv\n"
        f"    segql members @{AUDIENCE} --channel email --hash sha256 -o audience.csv\n"
        f"{_history_command(page['history'])}\n"
        f"or from anywhere, with --project:  segql repl --project {folder}",
        file=out,
    )
    if report is not None:
        charted = [s["name"][1:] for s in (page["history"] or {"segments": []})["segments"]]
        weeks = f", the history of {' and '.join(charted)}" if charted else ""
        print(f"\nThe catalog's sizes{weeks}, overlaps and classes, as a page:\n{report}",
              file=out)  # fmt: skip
    return 0


EXPERIMENT = "winback_email"
CLASSES = "value_class"
PROFILE_METRICS = ["total_spent", "purchases", "days_since(last_order) as days_since_order"]


def _print_classes(profiled: dict[str, Any], out: IO[str]) -> None:
    """The demo's classes: size, share and mean of each metric, and how well they separate."""
    from segql.engines.profile import verdict

    groups = profiled["groups"]
    metrics = list(groups[0]["metrics"]) if groups else []
    width = max([len(g["name"]) for g in groups] + [5])
    cols = [max(len(m), 8) for m in metrics]
    print(f"Classes `{CLASSES}` (segql profile @{CLASSES} -m …), the mean of each metric:\n",
          file=out)  # fmt: skip
    head = "  ".join(f"{m:>{w}}" for m, w in zip(metrics, cols, strict=True))
    print(f"{'class':<{width}}  {'contacts':>8}  {'share':>6}  {head}", file=out)
    for g in groups:
        means = "  ".join(
            f"{_mean(g['metrics'][m]['mean']):>{w}}" for m, w in zip(metrics, cols, strict=True)
        )
        print(f"{g['name']:<{width}}  {g['size']:>8,}  {100 * g['share']:>5.1f}%  {means}",
              file=out)  # fmt: skip
    etas = "  ".join(
        f"{_eta(profiled['separation'][m]):>{w}}" for m, w in zip(metrics, cols, strict=True)
    )
    print(f"{'η² (variance explained)':<{width + 20}}  {etas}", file=out)
    words = ", ".join(f"{m} {verdict(profiled['separation'][m])}" for m in metrics)
    print(f"\nHow well the classes separate: {words}.", file=out)
    for w in profiled["warnings"]:
        print(f"warning[{w['code']}]: {w['message']}", file=out)
    print("", file=out)


def _mean(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}"


def _eta(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _write_report(
    db: Any, schema: Any, as_of: Any, folder: Path, *, history: HistoryRequest | None = None
) -> tuple[Path, dict[str, Any]]:
    from segql.core.fsutil import write_atomic
    from segql.tools.report import collect, render

    path = folder / "report.html"
    data = collect(db, schema, as_of=as_of, history=history)
    write_atomic(path, render(data))
    return path, data


HISTORY = ("vip", "re_engagement")  # a segment that grows, and one people enter and leave


def _history(schema: Any) -> HistoryRequest | None:
    """The demo's size history: the two segments, weekly over the 26 weeks before the
    as_of (the report's default span), charted in its report and printed by
    :func:`_print_history`."""
    from segql.tools.report_history import HistoryRequest

    segments = definitions(schema).segments
    targets = tuple((f"@{n}", segments[n]) for n in HISTORY if n in segments)
    return HistoryRequest(targets=targets) if targets else None


def _history_command(hist: dict[str, Any] | None) -> str:
    """The command that prints the first charted segment's weekly table (its exact start,
    so it shows the demo's numbers), as a line of the demo's suggestions."""
    if not hist or not hist["segments"]:
        return ""
    return f"    segql history {hist['segments'][0]['name']} --from {hist['from']}\n"


def _print_history(hist: dict[str, Any], out: IO[str]) -> None:
    """Each segment's weekly sizes as `segql history`'s sparkline, between its first and
    last size, with the members who entered and exited summed over the weeks."""
    from segql.tools.sparkline import sparkline

    series = hist["segments"]
    width = max([len(s["name"]) - 1 for s in series] + [7])  # (without the @)
    print("Six months, week by week (segql history; the report charts it):\n", file=out)
    first, last = hist["from"][:10], hist["to"][:10]
    n = len(series[0]["points"]) if series else 0
    print(f"{'segment':<{width}}  {first:>10}  {'':<{n}}  {last:<10}  {'entered':>8}  "
          f"{'exited':>8}", file=out)  # fmt: skip
    for s in series:
        pts = s["points"]
        entered = sum(p["entered"] or 0 for p in pts)
        exited = sum(p["exited"] or 0 for p in pts)
        line = sparkline([p["size"] for p in pts])
        print(f"{s['name'][1:]:<{width}}  {pts[0]['size']:>10,}  {line:<{n}}  "
              f"{pts[-1]['size']:<10,}  {f'+{entered:,}':>8}  {f'-{exited:,}':>8}",
              file=out)  # fmt: skip
    print("\n(entered and exited: the members who joined or left, summed over the weeks)\n",
          file=out)  # fmt: skip


def _print_experiment(result: dict[str, Any], out: IO[str]) -> None:
    from segql.tools.experiment_view import render_results

    print("A finished experiment (`segql results winback_email`):\n", file=out)
    for line in render_results(result, "table").splitlines():
        print(f"    {line}" if line else "", file=out)
    print(file=out)


AUDIENCE = "cart_abandoners"


def _audience(db: Any, schema: Any, as_of: Any) -> str | None:
    """The consent-aware email audience of one segment (docs/privacy.md), counted by the
    engine: who may be emailed, and why the others may not."""
    if "email" not in schema.channels or AUDIENCE not in definitions(schema).segments:
        return None
    r = db.reach(definitions(schema).segments[AUDIENCE], schema, "email", as_of=as_of)
    return (
        f"Email audience of @{AUDIENCE}: {r.reachable:,} reachable by email, "
        f"{r.no_consent:,} without consent, {r.no_address:,} without an address "
        f"(of {r.members:,} members)."
    )
