"""Engines segql runs segments on (CONTRACT §7): :func:`connect` opens one by URL.

DuckDB (a file path, ``duckdb:///path``, or nothing for memory) is
:class:`segql.engine.Database`; PostgreSQL, SQLite, Spark and ClickHouse (chdb) are
:class:`~segql.engines.base.EngineDatabase` over their adapters. All answer the same
operations with the same results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from segql.core.limits import Limits

__all__ = ["connect"]


def connect(
    url: Any = None,
    *,
    timeout: float | None = None,
    limits: Limits | None = None,
    file_roots: Iterable[str | Path] | None = None,
    frames: Mapping[str, Any] | None = None,
    write: bool = False,
) -> Any:
    """A database for segments: ``url`` is a DuckDB file path (or None: in memory),
    ``duckdb:///path``, ``postgresql://…``, ``sqlite:///path``, ``spark:local[2]``,
    ``sc://host:port`` (Spark Connect), ``chdb:`` / ``chdb:///path``,
    ``clickhouse://host:port/db``, or a ``SparkSession`` object. ``write``: open it so that
    :meth:`snapshot` may write (DuckDB, PostgreSQL, SQLite); else segql only reads."""
    from segql.engines.base import EngineDatabase

    if url is not None and not isinstance(url, str | Path):
        if type(url).__name__ == "SparkSession":
            from segql.engines.spark import Spark

            return EngineDatabase(
                Spark(session=url), timeout=timeout, limits=limits, file_roots=file_roots
            )
        raise TypeError(f"connect() takes a URL or a path, not {type(url).__name__}")
    from segql.engines.url import kind_of

    kind, target = ("duckdb", "") if url is None else kind_of(str(url))
    if kind == "duckdb":
        from segql.engine import Database

        return Database(
            target or None,
            file_roots=file_roots,
            timeout=timeout,
            limits=limits,
            frames=frames,
            read_only=not write,
        )
    adapter: Any
    if kind == "postgresql":
        from segql.engines.postgres import Postgres

        adapter = Postgres(target, write=write)
    elif kind == "sqlite":
        from segql.engines.sqlite import SQLite

        adapter = SQLite(target, write=write)
    elif kind == "spark":
        from segql.engines.spark import Spark

        adapter = Spark(target or None)
    elif kind == "clickhouse":
        from segql.engines.clickhouse import ClickHouseServer

        adapter = ClickHouseServer(target)
    else:
        from segql.engines.clickhouse import Chdb

        adapter = Chdb(target or None)
    return EngineDatabase(adapter, timeout=timeout, limits=limits, file_roots=file_roots)
