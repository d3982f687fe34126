"""The `segql` command line (CONTRACT §4.2, §9).

Exit codes: 0 ok, 1 user error (syntax, type, data), 2 usage, 130 interrupted. Errors go
to stderr with the source line and a caret, in colour only on a terminal. Defaults come
from the project file (segql.toml, found from the current directory upwards); options
override it. Heavy modules (sqlglot, duckdb, prompt_toolkit) are imported by the commands
that need them, so `segql --help` is quick.
"""

import os
import sys
from collections.abc import Sequence

from segql.tools.analytics import (
    cmd_diff,
    cmd_explain,
    cmd_history,
    cmd_overlap,
    cmd_profile,
    cmd_report,
)
from segql.tools.arguments import UsageError, build_parser
from segql.tools.commands import COMMANDS, report
from segql.tools.experiments import cmd_assign, cmd_power, cmd_results
from segql.tools.snapshots import cmd_changes, cmd_snapshot

ALL = {
    **COMMANDS,
    "profile": cmd_profile,
    "overlap": cmd_overlap,
    "explain": cmd_explain,
    "report": cmd_report,
    "history": cmd_history,
    "diff": cmd_diff,
    "assign": cmd_assign,
    "results": cmd_results,
    "power": cmd_power,
    "snapshot": cmd_snapshot,
    "changes": cmd_changes,
}

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from segql.core.diagnostics import Interrupted, SegqlError, with_source

    try:
        return ALL[args.command](args)
    except Interrupted:
        print("interrupted", file=sys.stderr)
        return 130
    except SegqlError as e:
        diags = list(e.diagnostics)
        expr = getattr(args, "expr", None)
        if isinstance(expr, list) and len(expr) == 1:  # `segql count EXPR`
            expr = expr[0]
        if isinstance(expr, str) and not expr.startswith("@"):
            # Found after checking (a time out of range at compile time): show the line.
            diags = with_source(diags, expr)
        report(diags)
        return 1
    except UsageError as e:
        print(f"segql {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining
        # about the closed stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
