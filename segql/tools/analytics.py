"""The analytics commands (CONTRACT §6.3, §6.4): `segql profile`, `overlap`, `explain`,
`report`, `history` and `diff`, printed as a table for a person, or JSON / CSV for a
program."""

from __future__ import annotations

import argparse
import csv
import io
import json
from typing import Any

from segql.tools.arguments import UsageError
from segql.tools.commands import _database, _load, _progress, _settings
from segql.tools.sparkline import sparkline

STATS = ("count", "nulls", "mean", "std", "min", "p10", "median", "p90", "max")


def cmd_profile(args: argparse.Namespace) -> int:
    from segql.engines.selection import split_fields

    settings = _settings(args)
    metrics = split_fields(args.metrics)
    if not metrics:
        raise UsageError('give metrics: --metrics "total_spent, purchases"')
    schema = _load(settings)
    with _database(args, settings, schema) as db, _progress("profiling"):
        result = db.profile(schema, args.targets, metrics, as_of=args.as_of)
    print(render_profile(result, args.format), end="")
    return 0


def render_profile(result: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["group", "size", "share", "metric", *STATS])
        for g in result["groups"]:
            for m, st in g["metrics"].items():
                w.writerow(
                    [g["name"], g["size"], _num(g["share"]), m, *(_num(st[k]) for k in STATS)]
                )
        return out.getvalue()
    lines = [f"as of {result['as_of']}: {result['population']:,} contacts", ""]
    groups = result["groups"]
    width = max([len("group"), *(len(g["name"]) for g in groups)])
    lines.append(f"{'group':<{width}}  {'size':>9}  {'share':>6}")
    for g in groups:
        share = "-" if g["share"] is None else f"{100 * g['share']:.1f}%"
        lines.append(f"{g['name']:<{width}}  {g['size']:>9,}  {share:>6}")
    separation = result["separation"]
    metrics = list(groups[0]["metrics"]) if groups else []
    for m in metrics:
        lines.append("")
        eta = _eta_line(separation, m)
        lines.append(f"{m}{eta}")
        head = "  ".join(f"{k:>9}" for k in STATS)
        lines.append(f"{'group':<{width}}  {head}")
        for g in groups:
            st = g["metrics"][m]
            cells = "  ".join(f"{_short(st[k]):>9}" for k in STATS)
            lines.append(f"{g['name']:<{width}}  {cells}")
    for w in result["warnings"]:
        lines.append("")
        lines.append(f"warning[{w['code']}]: {w['message']}")
    return "\n".join(lines) + "\n"


def _eta_line(separation: dict[str, Any], metric: str) -> str:
    from segql.engines.profile import verdict  # (not on the start-up path of `segql`)

    if not separation:
        return ""
    if metric in separation and not isinstance(separation[metric], dict):
        e = separation[metric]
        shown = "-" if e is None else f"{e:.2f}"
        return f"  (η² {shown}: {verdict(e)})"
    parts = []
    for name, etas in separation.items():
        e = etas.get(metric)
        shown = "-" if e is None else f"{e:.2f}"
        parts.append(f"{name}: η² {shown} {verdict(e)}")
    return "  (" + "; ".join(parts) + ")"


def _short(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    if abs(v) >= 1e6 or (v != 0 and abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:,.2f}"


def _num(v: Any) -> str:
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def cmd_overlap(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.all and args.targets:
        raise UsageError("give segments or --all, not both")
    if not args.all and len(args.targets) < 2:
        raise UsageError("give two segments or more (@vip @lapsed_vip), or --all")
    schema = _load(settings)
    with _database(args, settings, schema) as db, _progress("counting"):
        result = db.overlap(schema, None if args.all else args.targets, as_of=args.as_of)
    print(render_overlap(result, args.format), end="")
    return 0


def render_overlap(result: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["a", "b", "size_a", "size_b", "both", "jaccard"])
        sizes = {s["name"]: s["size"] for s in result["segments"]}
        for p in result["pairs"]:
            w.writerow(
                [p["a"], p["b"], sizes[p["a"]], sizes[p["b"]], p["both"], _num(p["jaccard"])]
            )
        return out.getvalue()
    segs = result["segments"]
    width = max(len(s["name"]) for s in segs)
    lines = [f"{'segment':<{width}}  {'size':>9}"]
    lines += [f"{s['name']:<{width}}  {s['size']:>9,}" for s in segs]
    lines.append("")
    lines.append(f"{'pair':<{2 * width + 3}}  {'both':>9}  {'jaccard':>7}")
    for p in result["pairs"]:
        j = "-" if p["jaccard"] is None else f"{p['jaccard']:.3f}"
        pair = f"{p['a']} & {p['b']}"
        lines.append(f"{pair:<{2 * width + 3}}  {p['both']:>9,}  {j:>7}")
    return "\n".join(lines) + "\n"


def cmd_explain(args: argparse.Namespace) -> int:
    from segql.engines.explain import render

    settings = _settings(args)
    schema = _load(settings)
    with _database(args, settings, schema) as db, _progress("reading"):
        tree = db.explain(args.expr, schema, args.contact, as_of=args.as_of)
    if args.format == "json":
        out: dict[str, Any] = {"contact": args.contact}
        if tree.kind == "segmentation":
            out["class"] = tree.values[0] if tree.values else None
        else:
            out["member"] = tree.truth is True
        out["clauses"] = tree.to_json()
        print(json.dumps(out, indent=2))
    else:
        print(render(tree, args.contact), end="")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from segql.core.fsutil import write_atomic
    from segql.engines.selection import split_fields
    from segql.tools.report import collect, render

    settings = _settings(args)
    metrics = split_fields(args.metrics) if args.metrics is not None else None
    if args.history is None:
        given = [o for o, v in (("--from", args.start), ("--to", args.end),
                                ("--every", args.every)) if v is not None]  # fmt: skip
        if given:
            raise UsageError(f"{given[0]} is for --history: name the segments to chart")
    out = None if args.output == "-" else Path(args.output)
    if out is not None and out.is_dir():
        raise UsageError(f"`{out}` is a folder; give a file name with -o")
    if out is not None and not out.resolve().parent.is_dir():
        raise UsageError(f"the folder of `{out}` does not exist")
    schema = _load(settings)
    history = _history_request(args, schema, settings)
    with _database(args, settings, schema) as db, _progress("reporting"):
        data = collect(db, schema, as_of=args.as_of, metrics=metrics, history=history)
    text = json.dumps(data, indent=2) + "\n" if args.json else render(data)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomic(out, text)
        except OSError as e:
            raise UsageError(f"cannot write `{out}`: {e.strerror or e}") from None
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _history_request(args: argparse.Namespace, schema: Any, settings: Any) -> Any:
    """`--history @a @b [--from T] [--to T] [--every D]`: each target checked now, before
    any query runs; the same target twice is charted once."""
    from segql.tools.commands import _expr
    from segql.tools.report_history import HistoryRequest

    if args.history is None:
        return None
    targets = list(dict.fromkeys(args.history))
    return HistoryRequest(
        targets=tuple((t, _expr(t, schema, settings.limits)) for t in targets),
        start=args.start,
        end=args.end,
        every=args.every or "1w",
    )


def cmd_history(args: argparse.Namespace) -> int:
    from segql.tools.commands import _expr

    settings = _settings(args)
    schema = _load(settings)
    texpr = _expr(args.expr, schema, settings.limits)
    end = args.end or args.as_of  # (the project's as_of, by _settings; None: now)
    with _database(args, settings, schema) as db, _progress("evaluating"):
        points = db.history(texpr, schema, start=args.start, end=end, every=args.every)
    if args.format == "json":
        print(json.dumps(points, indent=2))
    elif args.format == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["as_of", "size", "entered", "exited"])
        for p in points:
            w.writerow([p["as_of"], p["size"], _num(p["entered"]), _num(p["exited"])])
        print(out.getvalue(), end="")
    else:
        print(f"{'as_of':<20}  {'size':>9}  {'entered':>8}  {'exited':>8}")
        for p in points:
            entered = "" if p["entered"] is None else f"+{p['entered']:,}"
            exited = "" if p["exited"] is None else f"-{p['exited']:,}"
            print(f"{p['as_of']:<20}  {p['size']:>9,}  {entered:>8}  {exited:>8}")
        print(f"\n{sparkline([p['size'] for p in points])}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from segql.tools.commands import _expr

    settings = _settings(args)
    schema = _load(settings)
    texpr = _expr(args.expr, schema, settings.limits)
    with _database(args, settings, schema) as db, _progress("comparing"):
        got = db.diff(texpr, schema, as_of=args.as_of, against=args.against, members=args.members)
    if args.format == "json":
        print(json.dumps(got, indent=2, default=str))
        return 0
    print(f"from {got['against']} to {got['as_of']}:")
    for k in ("entered", "exited", "stayed"):
        print(f"  {k:<8} {got[k]:>9,}")
    if args.members:
        for k in ("entered", "exited", "stayed"):
            keys = got["members"][k]
            print(f"\n{k} ({len(keys):,}):")
            for key in keys:
                print(f"  {key}")
    return 0
