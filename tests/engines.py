"""Loading one data set into every real engine and running compiled SQL on it.

A data set is a segql Schema plus rows for each table. Every supported dialect gets the
same rows in its own storage conventions (SQLite: ISO text timestamps, no lists).
Later engines (Spark, ClickHouse, …) plug in by adding a loader and a runner here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sqlite3
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
            assert dialect == "sqlite"
            return None

    duck = load_duckdb(data)
    lite = load_sqlite(data)
    pgdb = PgDatabase(data) if pg else None
    try:
        for expr in exprs:
            want = expected(expr)
            assert set(run_rows(duck, compiled(expr, "duckdb") or "")) == want, ("duckdb", expr)
            sql = compiled(expr, "sqlite")
            if sql is not None:
                assert set(run_rows(lite, sql)) == want, ("sqlite", expr)
            if pgdb is not None:
                sql = compiled(expr, "postgres")
                assert sql is not None
                assert set(pgdb.run(sql)) == want, ("postgres", expr)
    finally:
        duck.close()
        lite.close()
        if pgdb is not None:
            pgdb.close()
