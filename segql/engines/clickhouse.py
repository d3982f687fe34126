"""ClickHouse: in-process through chdb (``chdb:`` in memory, ``chdb:///path`` a folder) or
a server through clickhouse-connect (``clickhouse://user:password@host:8123/db``;
``pip install 'segql[clickhouse]'`` installs both)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from segql.core.diagnostics import EngineError
from segql.engines.base import BATCH, Adapter, engine_error

# A contact without events joins as NULL, not as zeros; times are UTC.
SETTINGS = {"join_use_nulls": 1, "session_timezone": "UTC"}


class ClickHouse(Adapter):
    """What both ways of reaching ClickHouse share: the catalog, read with SQL."""

    title = "ClickHouse"
    dialect = "clickhouse"

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

    def _arrow(self, sql: str, size: int) -> Iterator[Any]:
        """The query's Arrow record batches, as they come."""
        raise NotImplementedError

    def _stream(self, sql: str, size: int) -> Iterator[list[tuple[Any, ...]]]:
        for batch in self._arrow(sql, size):
            cols = [c.to_pylist() for c in batch.columns]
            yield list(zip(*cols, strict=True)) if cols else []

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [r for rows in self._stream(sql, BATCH) for r in rows]

    def first_column(self, sql: str) -> list[Any]:
        out: list[Any] = []
        for batch in self._arrow(sql, BATCH):
            out.extend(batch.column(0).to_pylist())
        return out

    def batches(self, sql: str, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        return self._stream(sql, size)


class Chdb(ClickHouse):
    def __init__(self, path: str | None = None, *, session: Any = None) -> None:
        if session is None:
            from segql.engines.url import need

            need("chdb", "clickhouse")
            from chdb import session as chs

            make: Any = chs.Session
            session = make(path) if path else make()
        self.session = session
        for name, value in SETTINGS.items():
            self.session.query(f"SET {name} = {_lit(value) if isinstance(value, str) else value}")
        self._running: Any = None  # the streaming result being read, for interrupt()

    def _arrow(self, sql: str, size: int) -> Iterator[Any]:
        result = self.session.send_query(sql, "Arrow")
        self._running = result
        try:
            yield from result.record_batch(rows_per_batch=size)
        finally:
            self._running = None

    def interrupt(self) -> None:
        # chdb stops a streaming result between batches, not inside a running query
        running = self._running
        if running is not None:
            running.cancel()

    def failure(self, e: BaseException) -> EngineError | None:
        if isinstance(e, RuntimeError) or type(e).__module__.startswith("chdb"):
            return engine_error(self.title, e)
        return None


class ClickHouseServer(ClickHouse):
    """A ClickHouse server over HTTP(S) (clickhouse-connect); results as Arrow streams;
    cancel with ``KILL QUERY`` from a second connection."""

    def __init__(self, url: str | None = None, *, client: Any = None) -> None:
        from segql.engines.url import need

        need("clickhouse_connect", "clickhouse")
        import clickhouse_connect

        self._options: dict[str, Any] = {}
        if client is None:
            self._options = _options(url or "clickhouse://localhost")
            try:
                client = clickhouse_connect.get_client(**self._options, settings=dict(SETTINGS))
            except Exception as e:  # the server's or the network's message, as a diagnostic
                raise engine_error(self.title, e) from None
        self.client = client
        self._query_id: str | None = None

    def _arrow(self, sql: str, size: int) -> Iterator[Any]:
        qid = str(uuid.uuid4())
        self._query_id = qid
        try:
            stream = self.client.query_arrow_stream(
                sql, settings={**SETTINGS, "query_id": qid, "max_block_size": size}
            )
            with stream:
                yield from stream
        finally:
            self._query_id = None

    def interrupt(self) -> None:
        qid = self._query_id
        if qid is None or not self._options:
            return
        import clickhouse_connect

        killer = clickhouse_connect.get_client(**self._options)
        try:
            killer.command(f"KILL QUERY WHERE query_id = {_lit(qid)} ASYNC")
        finally:
            killer.close()

    def close(self) -> None:
        if self._options:  # a client segql opened
            self.client.close()

    def failure(self, e: BaseException) -> EngineError | None:
        if type(e).__module__.startswith("clickhouse_connect"):
            return engine_error(self.title, e)
        return None


def _options(url: str) -> dict[str, Any]:
    """clickhouse-connect's arguments from ``clickhouse://user:pw@host:port/db?secure=1``."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    secure = query.get("secure", "").lower() in ("1", "true", "yes")
    out: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or (8443 if secure else 8123),
        "username": unquote(parts.username or "default"),
        "password": unquote(parts.password or ""),
        "secure": secure,
    }
    database = parts.path.strip("/")
    if database:
        out["database"] = unquote(database)
    return out


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
