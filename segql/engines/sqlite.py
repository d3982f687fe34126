"""SQLite through the standard library, opened read-only."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from segql.backends.sql.dialects.sqlite import SQLiteEngine
from segql.core.diagnostics import Diagnostic, EngineError, Interrupted
from segql.engines.base import BATCH, Adapter, engine_error


class SQLite(Adapter):
    title = "SQLite"
    dialect = "sqlite"
    profile = SQLiteEngine()

    def __init__(
        self, path: str | Path | None = None, *, connection: Any = None, write: bool = False
    ) -> None:
        self.write = write
        if connection is None:
            file = Path(path or "")
            if not file.is_file():
                raise EngineError(
                    Diagnostic(
                        code="missing-database",
                        message=f"database file `{file}` does not exist",
                        hints=("give the path of a SQLite file: sqlite:///path/to/file.db",),
                    )
                )
            mode = "rw" if write else "ro"
            uri = file.resolve().as_uri().replace("file://", "file:", 1) + f"?mode={mode}"
            # (no implicit transactions: a snapshot begins and commits its own)
            connection = sqlite3.connect(
                uri, uri=True, check_same_thread=False, isolation_level=None
            )
        # md5 for `bucket` (CONTRACT §5.4): SQLite has none; the same digits as hashlib's
        connection.create_function("md5", 1, _md5, deterministic=True)
        connection.create_function("segql_hex", 1, _hex, deterministic=True)
        self.con = connection

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.con.execute(sql).fetchall())

    def batches(self, sql: str, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        cur = self.con.execute(sql)
        while rows := cur.fetchmany(size):
            yield list(rows)

    def relations(self) -> set[str]:
        names = {
            r[0]
            for r in self.rows("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        }
        return names | {f"main.{n}" for n in names}

    def columns(self, table: str) -> dict[str, str] | None:
        name = table.split(".")[-1]
        quoted = '"' + name.replace('"', '""') + '"'
        found = {r[1]: str(r[2]) for r in self.rows(f"PRAGMA table_info({quoted})")}
        return found or None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Callable[[str], list[Any]]]:
        self.writable("SQLite database")
        self.con.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        try:
            yield lambda sql: list(self.con.execute(sql).fetchall())
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def interrupt(self) -> None:
        self.con.interrupt()

    def close(self) -> None:
        self.con.close()

    def failure(self, e: BaseException) -> EngineError | None:
        if isinstance(e, sqlite3.OperationalError) and "interrupt" in str(e):
            return Interrupted(Diagnostic(code="interrupted", message="the query was interrupted"))
        if isinstance(e, sqlite3.Error):
            return engine_error(self.title, e)
        return None


def _md5(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(text.encode("utf-8")).hexdigest()


def _hex(digits: str | None) -> int | None:
    return None if digits is None else int(digits, 16)
