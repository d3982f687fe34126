"""How segments overlap (CONTRACT §6.3): sizes, pairwise intersections and Jaccard
indexes, counted by the engine in one statement over the membership query."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.ir import nodes as ir

__all__ = ["overlap_query", "overlap_result", "overlap_targets"]


def overlap_targets(schema: Schema, specs: Sequence[str] | None) -> list[tuple[str, ir.TExpr]]:
    """``@segment`` or an expression each (None: every segment of the catalog)."""
    from segql.checker import typed
    from segql.engines.selection import membership_values

    if specs is None:
        specs = [f"@{n}" for n in schema.segments]
    out: list[tuple[str, ir.TExpr]] = []
    for spec in specs:
        if spec.startswith("@"):
            ((name, value),) = membership_values(schema, [spec])
            if isinstance(value, ir.Classify):
                raise EngineError(
                    Diagnostic(
                        code="bad-fields",
                        message=f"`{name}` is a segmentation: its classes never overlap",
                        hints=(f"profile it instead: `segql profile @{name} --metrics …`",),
                    )
                )
            out.append((name, value))
        else:
            out.append((spec, ir.IsTrue(operand=typed(spec, schema), segment=spec)))
    if len(out) < 2:
        raise EngineError(
            Diagnostic(
                code="bad-fields",
                message="overlap needs two segments or more",
                hints=("give several @segments, or --all",),
            )
        )
    return out


def overlap_query(inner: Any, n: int) -> Any:
    """Over a membership query (key, g0 … g(n-1)): each size, then each pair's members in
    both, in the order of :func:`itertools.combinations`."""
    from sqlglot import exp

    def g(i: int) -> Any:
        return exp.column(f"g{i}", table="m", quoted=True)

    from segql.backends.sql.functions import count_where as total

    cols = [total(g(i)) for i in range(n)]
    cols += [total(exp.and_(g(i), g(j))) for i, j in itertools.combinations(range(n), 2)]
    aliased = [exp.alias_(c, f"n{k}", quoted=True) for k, c in enumerate(cols)]
    return exp.select(*aliased).from_(inner.subquery("m"))


def overlap_result(row: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    n = len(names)
    sizes = [int(v or 0) for v in row[:n]]
    pairs = []
    for k, (i, j) in enumerate(itertools.combinations(range(n), 2)):
        both = int(row[n + k] or 0)
        union = sizes[i] + sizes[j] - both
        pairs.append(
            {"a": names[i], "b": names[j], "both": both, "jaccard": both / union if union else None}
        )
    return {
        "segments": [{"name": m, "size": s} for m, s in zip(names, sizes, strict=True)],
        "pairs": pairs,
    }
