"""The experiment commands (CONTRACT §6.5): `segql assign` (the audience and arms, for the
email tool), `segql results` (what each arm did) and `segql power` (how many contacts an
experiment needs)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from segql.tools.arguments import UsageError
from segql.tools.commands import _database, _expr, _load, _output, _progress, _settings


def cmd_assign(args: argparse.Namespace) -> int:
    import segql.engines.experiments as xp
    from segql.lang.formatter import quote_name

    settings = _settings(args)
    out, fmt = _output(args)
    schema = _load(settings)
    ex, _, _ = xp.experiment(schema, args.name)
    name = quote_name(ex.name)
    texpr = _expr(f"{name} is not null", schema, settings.limits)
    fields = [f"{name} as arm"]
    with _database(args, settings, schema) as db, _progress("assigning"):
        if out is not None:
            db.export(texpr, schema, out, format=fmt, as_of=args.as_of, fields=fields)
        else:
            sys.stdout.flush()
            db.export(texpr, schema, sys.stdout.buffer, format=fmt, as_of=args.as_of, fields=fields)
            sys.stdout.buffer.flush()
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    settings = _settings(args)
    schema = _load(settings)
    with _database(args, settings, schema) as db, _progress("measuring"):
        result = db.results(schema, args.name, as_of=args.as_of)
    print(render_results(result, args.format), end="")
    return 0


def cmd_power(args: argparse.Namespace) -> int:
    from segql.engines.experiments import sample_size

    if args.arms < 2:
        raise UsageError("an experiment has two arms or more")
    n = sample_size(args.baseline, args.lift, alpha=args.alpha, power=args.power)
    target = args.baseline * (1 + args.lift)
    print(
        f"to tell {100 * target:.2f}% from {100 * args.baseline:.2f}% "
        f"({args.lift:+.0%} relative) with {args.power:.0%} power at α = {args.alpha:g} "
        "(two-sided):\n"
        f"  {n:,} contacts per arm, {n * args.arms:,} in all ({args.arms} arms of equal size)"
    )
    return 0


def render_results(result: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2) + "\n"
    conversion = result["kind"] == "conversion"
    lines = [
        f"experiment {result['experiment']} ({result['status']}): audience "
        f"{result['audience']:,} frozen at {result['start']}; goal `{result['goal']}` "
        f"over ({result['start']}, {result['as_of']}]",
        "",
    ]
    value = "rate" if conversion else "mean"
    head = (
        f"{'arm':<12} {'size':>8} {'share':>7} {'expected':>8} "
        f"{'conv.' if conversion else 'n':>7} {value:>9} {'lift':>8} {'95% interval':>19} "
        f"{'p':>8}"
    )
    lines.append(head)
    for a in result["arms"]:
        measured = a["conversions"] if conversion else a["count"]
        v = a["rate"] if conversion else a["mean"]
        shown = "-" if v is None else (f"{100 * v:.2f}%" if conversion else f"{v:,.2f}")
        lift = "control" if a["p_value"] is None and a is result["arms"][0] else _pct(a["lift"])
        interval = (
            "-" if a["lift_low"] is None else f"[{_pct(a['lift_low'])}, {_pct(a['lift_high'])}]"
        )
        p = "-" if a["p_value"] is None else f"{a['p_value']:.3g}"
        share = "-" if a["share"] is None else f"{100 * a['share']:.1f}%"
        lines.append(
            f"{a['name']:<12} {a['size']:>8,} {share:>7} {100 * a['expected_share']:>7.1f}% "
            f"{measured:>7,} {shown:>9} {lift:>8} {interval:>19} {p:>8}"
        )
    srm = result["srm"]
    if srm["p_value"] is not None:
        verdict = "MISMATCH" if srm["flagged"] else "ok"
        lines.append("")
        lines.append(
            f"sample ratio: {verdict} (χ² = {srm['chi2']:.2f}, p = {srm['p_value']:.3g}; "
            "flagged below 0.001)"
        )
    for w in result["warnings"]:
        lines.append("")
        lines.append(f"warning[{w['code']}]: {w['message']}")
    return "\n".join(lines) + "\n"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:+.1f}%"
