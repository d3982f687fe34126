"""segql: a typed language for customer and contact segmentation.

The façade stays cheap to import: stages are loaded on first use, and sqlglot and duckdb
only by the stages that need them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from segql.core.diagnostics import (
    CheckError,
    Diagnostic,
    EngineError,
    Interrupted,
    LimitError,
    SchemaError,
    SegqlError,
    Severity,
    Span,
    SyntaxErrorDiagnostic,
)
from segql.core.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from segql.core.schema import Schema
    from segql.lang.ast import Expr

__version__ = "0.1.0"

__all__ = [
    "CheckError",
    "Diagnostic",
    "EngineError",
    "Interrupted",
    "LimitError",
    "Limits",
    "SchemaError",
    "SegqlError",
    "Severity",
    "Span",
    "SyntaxErrorDiagnostic",
    "check",
    "connect",
    "explain",
    "format",
    "load_schema",
    "matches",
    "parse",
    "to_sql",
]


def parse(text: str, *, limits: Limits | None = None) -> Expr:
    """Parse an expression (syntax only). Raises :class:`SegqlError` on bad input."""
    from segql.lang.parser import parse as _parse

    return _parse(text) if limits is None else _parse(text, limits=limits)


def format(expr: Expr | str, *, width: int = 88) -> str:
    """Canonical text of an expression (or of a source string)."""
    from segql.lang.formatter import format_expr

    if isinstance(expr, str):
        expr = parse(expr)
    return format_expr(expr, width=width)


def load_schema(
    source: Any, *, catalogs: Iterable[Any] = (), limits: Limits | None = None
) -> Schema:
    """Load and check a schema (YAML, TOML or JSON path, or a dict) and its catalogs;
    ``limits`` apply to its traits, stream filters and segments."""
    from segql.config.loader import load_schema as _load

    return _load(source, catalogs=catalogs, limits=limits or DEFAULT_LIMITS)


def check(source: str | Expr, schema: Schema, *, limits: Limits | None = None) -> list[Diagnostic]:
    """Every problem with ``source`` against ``schema``; never raises for user errors."""
    from segql.checker import check as _check

    return _check(source, schema, limits=limits or DEFAULT_LIMITS)


def to_sql(
    source: str | Any,
    schema: Schema,
    *,
    dialect: str = "duckdb",
    as_of: dt.datetime | dt.date | None = None,
    limits: Limits | None = None,
) -> str:
    """One SQL ``SELECT`` returning the key of every member once."""
    from segql.pipeline import to_sql as _to_sql

    return _to_sql(source, schema, dialect=dialect, as_of=as_of, limits=limits or DEFAULT_LIMITS)


def matches(
    source: str | Any,
    schema: Schema,
    *,
    contact: Mapping[str, Any],
    events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    as_of: dt.datetime | dt.date | None = None,
    limits: Limits | None = None,
) -> bool:
    """Whether one contact (plain Python values) is a member, evaluated in-process."""
    from segql.pipeline import matches as _matches

    return _matches(
        source, schema, contact=contact, events=events, as_of=as_of, limits=limits or DEFAULT_LIMITS
    )


def explain(
    source: str,
    schema: Schema,
    key: Any,
    *,
    db: Any = None,
    as_of: dt.datetime | dt.date | None = None,
) -> Any:
    """Why contact ``key`` is in ``source`` (an expression, ``@segment`` or
    ``@segmentation``) or not: the clause tree with each clause's truth (true, false,
    unknown) and compared values, read from ``db`` (a :func:`connect` URL or database;
    None: the schema's files in memory). ``.to_json()`` gives it as data; ``str()`` as
    text."""
    from segql.engines import connect as _connect

    if db is not None and not isinstance(db, str):
        return db.explain(source, schema, key, as_of=as_of)
    with _connect(db) as d:
        return d.explain(source, schema, key, as_of=as_of)


def connect(url: Any = None, *, timeout: float | None = None, limits: Limits | None = None) -> Any:
    """A database to run segments on: a DuckDB file path (None: in memory),
    ``duckdb:///path``, ``postgresql://…``, ``sqlite:///path``, ``spark:local[2]``,
    ``sc://host:port``, ``chdb:`` or a ``SparkSession`` (CONTRACT §7; docs/engines.md)."""
    from segql.engines import connect as _connect

    return _connect(url, timeout=timeout, limits=limits)
