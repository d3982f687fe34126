"""segql: a typed language for customer and contact segmentation.

The façade stays cheap to import: stages are loaded on first use, and sqlglot and duckdb
only by the stages that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .diagnostics import (
    CheckError,
    Diagnostic,
    EngineError,
    LimitError,
    SchemaError,
    SegqlError,
    Severity,
    Span,
    SyntaxErrorDiagnostic,
)
from .limits import Limits

if TYPE_CHECKING:
    from .ast import Expr

__version__ = "0.1.0"

__all__ = [
    "CheckError",
    "Diagnostic",
    "EngineError",
    "LimitError",
    "Limits",
    "SchemaError",
    "SegqlError",
    "Severity",
    "Span",
    "SyntaxErrorDiagnostic",
    "format",
    "parse",
]


def parse(text: str, *, limits: Limits | None = None) -> Expr:
    """Parse an expression (syntax only). Raises :class:`SegqlError` on bad input."""
    from .syntax import parse as _parse

    return _parse(text) if limits is None else _parse(text, limits=limits)


def format(expr: Expr | str, *, width: int = 88) -> str:
    """Canonical text of an expression (or of a source string)."""
    from .formatter import format_expr

    if isinstance(expr, str):
        expr = parse(expr)
    return format_expr(expr, width=width)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'segql' has no attribute {name!r}")
