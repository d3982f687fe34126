"""The checker: AST + schema -> typed tree (:mod:`segql.ir`) and diagnostics.

Every user mistake becomes a positioned :class:`~segql.core.diagnostics.Diagnostic`; the
checker never raises for them and reports all problems at once. Sub-expressions with
errors become ``None`` so one mistake does not cascade into a dozen. Later stages consume
the typed tree and never re-check. One module per kind of construct; ``api`` holds the
entry points.
"""

from __future__ import annotations

from segql.checker.api import check, check_schema, typed

__all__ = ["check", "check_schema", "typed"]
