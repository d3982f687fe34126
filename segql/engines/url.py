"""Which engine a ``--db`` value or ``segql.connect(url)`` names (CONTRACT §7)."""

from __future__ import annotations

import importlib
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError

EXTRAS = {
    "psycopg": "postgres",
    "pyspark": "spark",
    "chdb": "clickhouse",
    "clickhouse_connect": "clickhouse",
}


def need(module: str, extra: str) -> Any:
    """Import an engine's client, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EngineError(
            Diagnostic(
                code="missing-extra",
                message=f"this engine needs the Python package `{module}`, which is not installed",
                hints=(f"pip install 'segql[{extra}]'",),
            )
        ) from None


KINDS = ("duckdb", "postgresql", "sqlite", "spark", "chdb", "clickhouse")


def kind_of(url: str) -> tuple[str, str]:
    """(engine, what to open) for a URL or a path; a plain path is a DuckDB file."""
    low = url.lower()
    if low.startswith(("postgresql://", "postgres://")):
        return "postgresql", url
    if low.startswith("duckdb:"):
        return "duckdb", _path(url[len("duckdb:") :])
    if low.startswith("sqlite:"):
        return "sqlite", _path(url[len("sqlite:") :])
    if low.startswith("spark://"):  # a standalone cluster's master URL, as Spark writes it
        return "spark", url
    if low.startswith("spark:"):
        return "spark", url[len("spark:") :]
    if low.startswith("sc://"):
        return "spark", url
    if low.startswith("chdb:"):
        return "chdb", _path(url[len("chdb:") :])
    if low.startswith("clickhouse://"):
        return "clickhouse", url
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise EngineError(
            Diagnostic(
                code="unknown-engine",
                message=f"unknown database URL scheme `{scheme}://`",
                hints=(
                    "a DuckDB file path, duckdb:///path, postgresql://…, sqlite:///path, "
                    "spark:local[2], sc://host:port, chdb: or clickhouse://host:port/db",
                ),
            )
        )
    return "duckdb", url


def _path(rest: str) -> str:
    """``///abs/path`` -> ``/abs/path``; ``//rel`` or ``rel`` -> ``rel``; empty: memory."""
    if rest.startswith("///"):
        return rest[2:]
    if rest.startswith("//"):
        return rest[2:]
    return rest


def is_path(text: str) -> bool:
    return kind_of(text)[0] == "duckdb" and not text.lower().startswith("duckdb:")
