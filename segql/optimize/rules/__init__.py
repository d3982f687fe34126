"""The optimizer's rules, one per module. A rule is a pure function from a typed node to
its rewrite, or None when it does not apply; it must keep every result (tested on
fixture pairs in tests/fixtures/optimize/ and by hypothesis against the unoptimized SQL)."""

from __future__ import annotations

from collections.abc import Callable

from segql.ir import nodes as ir
from segql.optimize.rules.count_as_exists import count_as_exists

Rule = Callable[[ir.TExpr], ir.TExpr | None]

RULES: tuple[Rule, ...] = (count_as_exists,)
"""The rules :func:`segql.optimize.optimize` applies by default, in order."""

__all__ = ["RULES", "Rule", "count_as_exists"]
