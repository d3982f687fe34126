"""The experiment commands (CONTRACT §6.5): `segql assign` (the audience and arms, for the
email tool), `segql results` (what each arm did) and `segql power` (how many contacts an
experiment needs)."""

from __future__ import annotations

import argparse
import sys

from segql.tools.arguments import UsageError
from segql.tools.commands import _database, _expr, _load, _output, _progress, _settings
from segql.tools.experiment_view import render_results


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
