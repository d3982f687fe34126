"""Loading one data set into every real engine and running compiled SQL on it.

A data set is a segql Schema plus rows for each table. Every supported dialect gets the
same rows in its own storage conventions (SQLite: ISO text timestamps, no lists).
Later engines (Spark, ClickHouse, …) plug in by adding a loader and a runner here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from segql.core.schema import Schema
from segql.core.types import Type

PG_DSN = os.environ.get("SEGQL_PG_DSN")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Table:
    columns: list[tuple[str, Type]]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Dataset:
    schema: Schema
    tables: dict[str, Table]

    def contacts(self) -> list[dict[str, Any]]:
        """Entity rows keyed by schema field names (the key under its column)."""
        ent = self.schema.entity
        table = self.tables[ent.source.table or ""]
        names = [c for c, _ in table.columns]
        by_column = {f.column: n for n, f in ent.fields.items()}
        out = []
        for row in table.rows:
            rec = dict(zip(names, row, strict=True))
            contact = {by_column.get(c, c): v for c, v in rec.items()}
            contact[ent.key] = rec[ent.key]
            out.append(contact)
        return out

    def events_of(self, key: Any) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for name, stream in self.schema.streams.items():
            table = self.tables[stream.source.table or ""]
            names = [c for c, _ in table.columns]
            by_column = {f.column: n for n, f in stream.fields.items()}
            evs = []
            for row in table.rows:
                rec = dict(zip(names, row, strict=True))
                if rec[stream.key] != key:
                    continue
                ev = {by_column.get(c, c): v for c, v in rec.items()}
                ev[stream.time] = rec[stream.time]
                evs.append(ev)
            out[name] = evs
        return out


_DUCK = {
    Type.STRING: "VARCHAR",
    Type.INTEGER: "BIGINT",
    Type.DECIMAL: "DECIMAL(18,4)",
    Type.FLOAT: "DOUBLE",
    Type.BOOLEAN: "BOOLEAN",
    Type.DATE: "DATE",
    Type.TIMESTAMP: "TIMESTAMP",
    Type.LIST_STRING: "VARCHAR[]",
    Type.LIST_INTEGER: "BIGINT[]",
}
_PG = {
    **_DUCK,
    Type.STRING: "TEXT",
    Type.DECIMAL: "NUMERIC",
    Type.FLOAT: "DOUBLE PRECISION",
    Type.LIST_STRING: "TEXT[]",
}
_SQLITE = {
    Type.STRING: "TEXT",
    Type.INTEGER: "INTEGER",
    Type.DECIMAL: "REAL",
    Type.FLOAT: "REAL",
    Type.BOOLEAN: "INTEGER",
    Type.DATE: "TEXT",
    Type.TIMESTAMP: "TEXT",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _naive_utc(v: dt.datetime) -> dt.datetime:
    return v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo else v


def load_duckdb(data: Dataset, con: Any = None) -> Any:
    import duckdb

    con = con or duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, table in data.tables.items():
        cols = ", ".join(f"{_q(c)} {_DUCK[t]}" for c, t in table.columns)
        con.execute(f"CREATE TABLE {_q(name)} ({cols})")
        if table.rows:
            marks = ", ".join("?" for _ in table.columns)
            rows = [
                tuple(_naive_utc(v) if isinstance(v, dt.datetime) else v for v in r)
                for r in table.rows
            ]
            con.executemany(f"INSERT INTO {_q(name)} VALUES ({marks})", rows)
    return con


def _sqlite_value(v: Any, t: Type) -> Any:
    if v is None:
        return None
    if t is Type.TIMESTAMP:
        return _naive_utc(v).isoformat(sep=" ", timespec="microseconds")
    if t is Type.DATE:
        return v.isoformat()
    if t is Type.DECIMAL:
        return float(v)
    if t is Type.BOOLEAN:
        return int(v)
    return v


def load_sqlite(data: Dataset) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    for name, table in data.tables.items():
        cols = ", ".join(f"{_q(c)} {_SQLITE.get(t, 'TEXT')}" for c, t in table.columns)
        con.execute(f"CREATE TABLE {_q(name)} ({cols})")
        marks = ", ".join("?" for _ in table.columns)
        rows = [
            tuple(
                None if t.is_list else _sqlite_value(v, t)
                for v, (_, t) in zip(r, table.columns, strict=True)
            )
            for r in table.rows
        ]
        con.executemany(f"INSERT INTO {_q(name)} VALUES ({marks})", rows)
    return con


_pg_counter = itertools.count()


def pg_available() -> bool:
    return PG_DSN is not None


def require_pg() -> str:
    if PG_DSN is None:
        if IN_CI:
            pytest.fail("CI=true but SEGQL_PG_DSN is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL server (set SEGQL_PG_DSN, e.g. `source .ci/postgres.sh`)")
    return PG_DSN


class PgDatabase:
    """A throwaway PostgreSQL schema holding one data set."""

    def __init__(self, data: Dataset) -> None:
        import psycopg

        self.con = psycopg.connect(require_pg(), autocommit=True)
        self.schema = f"segql_t{os.getpid()}_{next(_pg_counter)}"
        self.con.execute(f"CREATE SCHEMA {_q(self.schema)}")
        self.con.execute(f"SET search_path TO {_q(self.schema)}")
        self.con.execute("SET TimeZone TO 'UTC'")
        for name, table in data.tables.items():
            cols = ", ".join(f"{_q(c)} {_PG[t]}" for c, t in table.columns)
            self.con.execute(f"CREATE TABLE {_q(name)} ({cols})")
            if table.rows:
                marks = ", ".join("%s" for _ in table.columns)
                with self.con.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO {_q(name)} VALUES ({marks})",
                        [
                            tuple(_naive_utc(v) if isinstance(v, dt.datetime) else v for v in r)
                            for r in table.rows
                        ],
                    )

    def run(self, sql: str) -> list[Any]:
        return [r[0] for r in self.con.execute(sql).fetchall()]

    def close(self) -> None:
        self.con.execute(f"DROP SCHEMA {_q(self.schema)} CASCADE")
        self.con.close()


def assert_batch_agrees(
    data: Dataset, want: dict[str, set[Any]], *, as_of: dt.datetime, pg: bool
) -> None:
    """Every expression of ``want`` as a column of one batch query (the batch's own plans:
    a `has` counted in its pass, the largest value of a `has … where F > X`, `top … by` as
    a threshold) on DuckDB, SQLite and, with ``pg``, PostgreSQL: its members (the rows where
    it is true) equal ``want``. Expressions a dialect refuses alone are left out there."""
    import segql
    from segql.backends.sql.dialects import profile_for
    from segql.backends.sql.plan import SqlOptions
    from segql.backends.sql.query import build_query, render
    from segql.core.types import Type
    from segql.ir import nodes as ir
    from segql.pipeline import compile, to_sql

    def supported(expr: str, dialect: str) -> bool:
        try:
            to_sql(expr, data.schema, dialect=dialect, as_of=as_of)
        except segql.CheckError as e:
            assert e.code == "unsupported-construct", e
            return False
        return True

    runs: list[tuple[str, Any]] = [("duckdb", load_duckdb(data)), ("sqlite", load_sqlite(data))]
    pgdb = PgDatabase(data) if pg else None
    if pgdb is not None:
        runs.append(("postgres", pgdb.con))
    every = ir.Lit(value=True, type=Type.BOOLEAN)
    try:
        for dialect, con in runs:
            exprs = [e for e in want if supported(e, dialect)]
            select = tuple((f"m{i}", compile(e, data.schema)) for i, e in enumerate(exprs))
            profile = profile_for(dialect)
            assert profile is not None
            options = SqlOptions(select=select, batch=True)
            query = build_query(every, data.schema, profile=profile, as_of=as_of, options=options)
            rows = con.execute(render(query, profile)).fetchall()
            for i, expr in enumerate(exprs):
                got = {r[0] for r in rows if r[i + 1] is not None and bool(r[i + 1])}
                assert got == want[expr], (dialect, "batch", expr)
    finally:
        if pgdb is not None:
            pgdb.close()


def run_rows(con: Any, sql: str) -> list[Any]:
    return [r[0] for r in con.execute(sql).fetchall()]


def decimal_or(v: Any) -> Any:
    return Decimal(str(v)) if isinstance(v, float) else v


def iter_pairs(xs: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
    return itertools.pairwise(xs)


def assert_engines_agree(
    data: Dataset,
    exprs: Sequence[str],
    expected: Callable[[str], set[Any]],
    *,
    as_of: dt.datetime,
    pg: bool,
    spark: bool = False,
    clickhouse: bool = False,
    sqlite: bool = True,
) -> None:
    """Every expression's members on DuckDB, SQLite (where it compiles) and, with ``pg``,
    PostgreSQL equal ``expected(expr)``."""
    import segql
    from segql.pipeline import to_sql

    def compiled(expr: str, dialect: str) -> str | None:
        try:
            return to_sql(expr, data.schema, dialect=dialect, as_of=as_of)
        except segql.CheckError as e:
            assert e.code == "unsupported-construct", e
            assert dialect in ("sqlite", "clickhouse")  # no (nullable) lists there
            return None

    duck = load_duckdb(data)
    lite = load_sqlite(data)
    pgdb = PgDatabase(data) if pg else None
    sparkdb = SparkData(data, views=True) if spark else None
    chdb = ChdbData(data) if clickhouse else None
    try:
        for expr in exprs:
            want = expected(expr)
            assert set(run_rows(duck, compiled(expr, "duckdb") or "")) == want, ("duckdb", expr)
            sql = compiled(expr, "sqlite") if sqlite else None
            if sql is not None:
                assert set(run_rows(lite, sql)) == want, ("sqlite", expr)
            if pgdb is not None:
                sql = compiled(expr, "postgres")
                assert sql is not None
                assert set(pgdb.run(sql)) == want, ("postgres", expr)
            if sparkdb is not None:
                sql = compiled(expr, "spark")
                assert sql is not None
                assert set(sparkdb.run(sql)) == want, ("spark", expr)
            if chdb is not None:
                sql = compiled(expr, "clickhouse")
                if sql is not None:
                    assert set(chdb.run(sql)) == want, ("clickhouse", expr)
    finally:
        duck.close()
        lite.close()
        if pgdb is not None:
            pgdb.close()
        if sparkdb is not None:
            sparkdb.close()
        if chdb is not None:
            chdb.close()


# --- Spark and ClickHouse (chdb) ----------------------------------------------------------

_spark_session: Any = None


def require(module: str) -> Any:
    """An engine's client; in CI a missing one fails instead of skipping."""
    try:
        return __import__(module)
    except ImportError:
        if IN_CI:
            pytest.fail(f"CI=true but `{module}` is not installed: .ci/run must install it")
        pytest.skip(f"`{module}` is not installed (pip install -e '.[test,engines]')")


def spark_session() -> Any:
    """One local Spark session for the whole test run (starting one takes seconds)."""
    global _spark_session
    if _spark_session is None:
        require("pyspark")
        from pyspark.sql import SparkSession

        _spark_session = (
            SparkSession.builder.master("local[2]")
            .appName("segql-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="segql-spark-"))
            .getOrCreate()
        )
        _spark_session.sparkContext.setLogLevel("ERROR")
    return _spark_session


_spark_counter = itertools.count()
_connect_server: Any = None


def spark_connect_url() -> str:
    """A Spark Connect server (pyspark's own, `local[1]`) for the whole test run, on a
    free loopback port: ``sc://127.0.0.1:PORT``."""
    global _connect_server
    require("pyspark")
    require("grpc")  # the Spark Connect client's transport (pyspark[connect])
    if _connect_server is None:
        import atexit
        import socket
        import subprocess
        import time
        from pathlib import Path

        import pyspark

        home = Path(pyspark.__file__).parent
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = {
            "spark.connect.grpc.binding.port": port,
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": 1,
            "spark.sql.session.timeZone": "UTC",
            "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
            "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="segql-sc-"),
        }
        server = "org.apache.spark.sql.connect.service.SparkConnectServer"
        args = [str(home / "bin" / "spark-submit"), "--class", server, "--master", "local[1]"]
        for k, v in conf.items():
            args += ["--conf", f"{k}={v}"]
        proc = subprocess.Popen(
            args,
            env={**os.environ, "SPARK_HOME": str(home)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(proc.kill)
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail("the Spark Connect server did not start")
                time.sleep(0.5)
        _connect_server = (proc, f"sc://127.0.0.1:{port}")
    url: str = _connect_server[1]
    return url


def _spark_type(t: Type) -> Any:
    from pyspark.sql import types as st

    return {
        Type.STRING: st.StringType(),
        Type.INTEGER: st.LongType(),
        Type.DECIMAL: st.DecimalType(18, 4),
        Type.FLOAT: st.DoubleType(),
        Type.BOOLEAN: st.BooleanType(),
        Type.DATE: st.DateType(),
        Type.TIMESTAMP: st.TimestampType(),
        Type.LIST_STRING: st.ArrayType(st.StringType()),
        Type.LIST_INTEGER: st.ArrayType(st.LongType()),
    }[t]


class SparkData:
    """A data set as tables of a fresh Spark database (made current)."""

    def __init__(self, data: Dataset, *, views: bool = False, session: Any = None) -> None:
        """``views``: temporary views (fast, for many small data sets) instead of tables;
        ``session``: another session than the shared local one (a Spark Connect client)."""
        from pyspark.sql import types as st

        self.spark = session if session is not None else spark_session()
        self.views = views
        self.db = f"segql_t{os.getpid()}_{next(_spark_counter)}"
        self.names = list(data.tables)
        if not views:
            self.spark.sql(f"CREATE DATABASE {self.db}")
            self.spark.catalog.setCurrentDatabase(self.db)
        for name, table in data.tables.items():
            schema = st.StructType(
                [st.StructField(c, _spark_type(t), True) for c, t in table.columns]
            )
            rows = [
                tuple(
                    v.astimezone(dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo else v
                    for v in r
                )
                for r in table.rows
            ]
            df = self.spark.createDataFrame(rows, schema)
            if views:
                df.createOrReplaceTempView(name)
            else:
                df.write.mode("overwrite").saveAsTable(f"{self.db}.{name}")

    def run(self, sql: str) -> list[Any]:
        if not self.views:
            self.spark.catalog.setCurrentDatabase(self.db)
        return [r[0] for r in self.spark.sql(sql).collect()]

    def close(self) -> None:
        if self.views:
            for name in self.names:
                self.spark.catalog.dropTempView(name)
            return
        self.spark.catalog.setCurrentDatabase("default")
        self.spark.sql(f"DROP DATABASE IF EXISTS {self.db} CASCADE")


_CH = {
    Type.STRING: "Nullable(String)",
    Type.INTEGER: "Nullable(Int64)",
    Type.DECIMAL: "Nullable(Decimal(18, 4))",
    Type.FLOAT: "Nullable(Float64)",
    Type.BOOLEAN: "Nullable(Bool)",
    Type.DATE: "Nullable(Date32)",
    Type.TIMESTAMP: "Nullable(DateTime64(6, 'UTC'))",
    # ClickHouse arrays cannot be null: a null list is stored as [] (segql refuses list
    # fields on ClickHouse, so these columns are only there, never read).
    Type.LIST_STRING: "Array(Nullable(String))",
    Type.LIST_INTEGER: "Array(Nullable(Int64))",
}
_chdb_counter = itertools.count()


def _ch_literal(v: Any, t: Type) -> str:
    if t.is_list:
        inner = Type.STRING if t is Type.LIST_STRING else Type.INTEGER
        return "[" + ", ".join(_ch_literal(x, inner) for x in (v or [])) + "]"
    if v is None:
        return "NULL"
    if t is Type.TIMESTAMP:
        return "'" + _naive_utc(v).isoformat(sep=" ", timespec="microseconds") + "'"
    if t is Type.DATE:
        return f"'{v.isoformat()}'"
    if t is Type.BOOLEAN:
        return "true" if v else "false"
    if t is Type.STRING:
        return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(v)


class ChdbData:
    """A data set as Memory tables of a fresh database in one chdb session."""

    def __init__(self, data: Dataset, *, path: str | None = None) -> None:
        """``path``: a folder that keeps the tables (MergeTree) for another process."""
        require("chdb")
        from chdb import session

        self.session = session.Session(path) if path else session.Session()
        self.db = "default" if path else f"segql_t{os.getpid()}_{next(_chdb_counter)}"
        if not path:
            self.session.query(f"CREATE DATABASE {self.db}")
        self.session.query(f"USE {self.db}")
        kind = "MergeTree ORDER BY tuple()" if path else "Memory"
        self.session.query("SET join_use_nulls = 1")  # as segql's adapter does
        self.session.query("SET session_timezone = 'UTC'")
        for name, table in data.tables.items():
            keep = list(range(len(table.columns)))
            cols = ", ".join(f"{_q(table.columns[i][0])} {_CH[table.columns[i][1]]}" for i in keep)
            self.session.query(f"CREATE TABLE {_q(name)} ({cols}) ENGINE = {kind}")
            if table.rows:
                values = ", ".join(
                    "(" + ", ".join(_ch_literal(r[i], table.columns[i][1]) for i in keep) + ")"
                    for r in table.rows
                )
                self.session.query(f"INSERT INTO {_q(name)} VALUES {values}")

    def run(self, sql: str) -> list[Any]:
        res = self.session.query(sql, "ArrowTable")
        return res.column(0).to_pylist() if res.num_columns else []

    def close(self) -> None:
        self.session.query(f"DROP DATABASE IF EXISTS {self.db}")
        self.session.close()


class ClickHouseHttp:
    """A chdb session served over ClickHouse's HTTP interface on loopback: the subset
    clickhouse-connect speaks (query in the URL and body, settings and `database` as URL
    parameters, the result in the format the query names). The engine answering is real
    ClickHouse; only the transport is this small server, as no ClickHouse server of a
    current version can be installed here (Debian ships 18.16)."""

    _TRANSPORT = frozenset(
        {"query", "database", "default_format", "session_id", "query_id", "user",
         "password", "compress", "decompress", "wait_end_of_query", "session_timeout",
         "send_progress_in_http_headers", "http_headers_progress_interval_ms",
         "enable_http_compression", "session_check", "client_protocol_version",
         "cancel_http_readonly_queries_on_client_close"}
    )  # fmt: skip

    def __init__(self, session: Any) -> None:
        import threading
        import urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        lock = threading.Lock()
        transport = self._TRANSPORT

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bytes) -> None:
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                sql = "\n".join(p for p in (params.get("query", ""), body.decode()) if p)
                status, data = 200, b""
                try:
                    with lock:
                        if params.get("database"):
                            session.query(f"USE {_q(params['database'])}")
                        for k, v in params.items():
                            if k not in transport:
                                value = (
                                    v if v.lstrip("-").isdigit() else _ch_literal(v, Type.STRING)
                                )
                                session.query(f"SET {k} = {value}")
                        if sql.strip():
                            data = session.query(sql, "TabSeparated").bytes()
                except Exception as e:  # the engine's message, as a server sends it
                    status, data = 500, str(e).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sqlite_file(data: Dataset, path: Any) -> Any:
    """``data`` as a SQLite file (list columns as null: SQLite has no lists)."""
    con = sqlite3.connect(path)
    for name, table in data.tables.items():
        cols = ", ".join(_q(c) for c, _ in table.columns)
        con.execute(f"CREATE TABLE {_q(name)} ({cols})")
        marks = ", ".join("?" for _ in table.columns)
        con.executemany(
            f"INSERT INTO {_q(name)} VALUES ({marks})",
            [
                tuple(
                    None if t.is_list else _sqlite_value(v, t)
                    for v, (_, t) in zip(r, table.columns, strict=True)
                )
                for r in table.rows
            ],
        )
    con.commit()
    con.close()
    return path


@contextlib.contextmanager
def engine_database(kind: str, data: Dataset, folder: Any) -> Iterator[Any]:
    """A segql database of ``kind`` (one of ENGINE_KINDS) holding ``data``, opened as a
    user would (through its URL where it has one); ``folder`` holds files it needs."""
    from segql.engines import connect
    from segql.engines.base import EngineDatabase

    if kind == "duckdb":
        import duckdb

        path = folder / "data.duckdb"
        con = duckdb.connect(str(path))
        load_duckdb(data, con)
        con.close()
        with connect(str(path)) as d:
            yield d
    elif kind == "sqlite":
        path = sqlite_file(data, folder / "data.sqlite")
        with connect(f"sqlite:///{path}") as d:
            yield d
    elif kind == "postgres":
        require_pg()
        pg = PgDatabase(data)
        url = f"{require_pg()}?options=-csearch_path%3D{pg.schema}"
        try:
            with connect(url) as d:
                yield d
        finally:
            pg.close()
    elif kind == "spark-connect":
        with connect(spark_connect_url()) as d:
            sd = SparkData(data, session=d.adapter.spark)
            try:
                yield d
            finally:
                sd.close()
    elif kind == "spark":
        sd = SparkData(data)
        from segql.engines.spark import Spark

        try:
            yield EngineDatabase(Spark(session=sd.spark))
        finally:
            sd.close()
    elif kind == "clickhouse-server":
        require("clickhouse_connect")
        cd = ChdbData(data)
        http = ClickHouseHttp(cd.session)
        try:
            with connect(f"clickhouse://127.0.0.1:{http.port}/{cd.db}") as d:
                yield d
        finally:
            http.close()
            cd.close()
    else:
        assert kind == "clickhouse", kind
        cd = ChdbData(data)
        from segql.engines.clickhouse import Chdb

        try:
            yield EngineDatabase(Chdb(session=cd.session))
        finally:
            cd.close()


ENGINE_KINDS = [
    "duckdb", "sqlite", "postgres", "spark", "spark-connect", "clickhouse", "clickhouse-server"
]  # fmt: skip
