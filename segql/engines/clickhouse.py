"""ClickHouse in-process through chdb (``chdb:`` in memory, ``chdb:///path`` a folder;
``pip install 'segql[clickhouse]'``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from segql.core.diagnostics import EngineError
from segql.engines.base import BATCH, Adapter, engine_error


class Chdb(Adapter):
    title = "ClickHouse"
    dialect = "clickhouse"

    def __init__(self, path: str | None = None, *, session: Any = None) -> None:
        if session is None:
            from segql.engines.url import need

            need("chdb", "clickhouse")
            from chdb import session as chs

            make: Any = chs.Session
            session = make(path) if path else make()
        self.session = session
        # A contact without events joins as NULL, not as zeros; times are UTC.
        self.session.query("SET join_use_nulls = 1")
        self.session.query("SET session_timezone = 'UTC'")

        self._running: Any = None  # the streaming result being read, for interrupt()

    def _stream(self, sql: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a query in Arrow record batches, read as they come."""
        result = self.session.send_query(sql, "Arrow")
        self._running = result
        try:
            for batch in result.record_batch(rows_per_batch=size):
                cols = [c.to_pylist() for c in batch.columns]
                yield list(zip(*cols, strict=True)) if cols else []
        finally:
            self._running = None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [r for rows in self._stream(sql, BATCH) for r in rows]

    def first_column(self, sql: str) -> list[Any]:
        result = self.session.send_query(sql, "Arrow")
        self._running = result
        try:
            out: list[Any] = []
            for batch in result.record_batch(rows_per_batch=BATCH):
                out.extend(batch.column(0).to_pylist())
            return out
        finally:
            self._running = None

    def batches(self, sql: str, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        return self._stream(sql, size)

    def interrupt(self) -> None:
        running = self._running
        if running is not None:
            running.cancel()

    def relations(self) -> set[str]:
        rows = self.rows(
            "SELECT database, name, database = currentDatabase() FROM system.tables "
            "WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema')"
        )
        out: set[str] = set()
        for db, name, current in rows:
            out.add(f"{db}.{name}")
            if current:
                out.add(name)
        return out

    def columns(self, table: str) -> dict[str, str] | None:
        parts = table.split(".")
        db = "currentDatabase()" if len(parts) == 1 else _lit(parts[-2])
        rows = self.rows(
            f"SELECT name, type FROM system.columns WHERE database = {db} "
            f"AND table = {_lit(parts[-1])}"
        )
        return {r[0]: r[1] for r in rows} or None

    def failure(self, e: BaseException) -> EngineError | None:
        if isinstance(e, RuntimeError) or type(e).__module__.startswith("chdb"):
            return engine_error(self.title, e)
        return None


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
