"""`bucket(salt)` (CONTRACT §5.4) against an independent md5 of `salt:key`, for integer and
string keys, in-process and on every engine with md5 (SQLite refuses it)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from engines import ChdbData, Dataset, PgDatabase, SparkData, Table, load_duckdb, require_pg

import segql
from segql.core.types import Type

AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
SALTS = ["spring-test", "é ü", "a:b", ""]


def independent(salt: str, key: Any) -> int:
    return int(hashlib.md5(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % 10000


def _dataset(key_type: str) -> tuple[Dataset, list[Any]]:
    keys: list[Any]
    if key_type == "integer":
        keys = [*range(1, 120), -5, 0, 2**40, 9_007_199_254_740_993]
    else:
        keys = [f"c-{i}" for i in range(1, 120)] + ["", "Zoë", "it's", "a:b"]
    schema = segql.load_schema(
        {
            "entity": {"table": "people", "key": "pid", "fields": {"pid": key_type}},
            "events": {
                "visits": {"table": "visits", "key": "pid", "time": "at", "fields": {}},
            },
        }
    )
    t = Type.INTEGER if key_type == "integer" else Type.STRING
    tables = {
        "people": Table(columns=[("pid", t)], rows=[(k,) for k in keys]),
        "visits": Table(columns=[("pid", t), ("at", Type.TIMESTAMP)], rows=[]),
    }
    return Dataset(schema=schema, tables=tables), keys


@pytest.mark.parametrize("key_type", ["integer", "string"])
@pytest.mark.parametrize("salt", SALTS)
def test_in_process_equals_hashlib(key_type: str, salt: str) -> None:
    data, keys = _dataset(key_type)
    quoted = "'" + salt.replace("'", "''") + "'"
    for k in keys:
        want = independent(salt, k)
        expr = f"bucket({quoted}) = {want}"
        assert segql.matches(expr, data.schema, contact={"pid": k}, as_of=AS_OF), (salt, k)


ENGINES = ["duckdb", "postgres", "spark", "clickhouse"]


def _run(kind: str, data: Dataset, sql: str) -> list[Any]:
    """The first column of the rows of ``sql`` on ``data`` loaded into a fresh database."""
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect()
        load_duckdb(data, con)
        return [r[0] for r in con.execute(sql).fetchall()]
    loaded: Any
    if kind == "postgres":
        require_pg()
        loaded = PgDatabase(data)
    elif kind == "spark":
        loaded = SparkData(data, views=True)
    else:
        loaded = ChdbData(data)
    try:
        return list(loaded.run(sql))
    finally:
        loaded.close()


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("key_type", ["integer", "string"])
def test_every_engine_equals_hashlib(kind: str, key_type: str) -> None:
    data, keys = _dataset(key_type)
    salt = "spring-test"
    # members of the lower half, and of one bucket's exact value
    exact = independent(salt, keys[0])
    expr = f"bucket('{salt}') < 5000 or bucket('{salt}') = {exact}"
    want = {k for k in keys if independent(salt, k) < 5000 or independent(salt, k) == exact}
    sql = segql.to_sql(expr, data.schema, dialect=kind, as_of=AS_OF)
    got = set(_run(kind, data, sql))
    assert got == want


def test_sqlite_refuses_bucket() -> None:
    data, _ = _dataset("integer")
    with pytest.raises(segql.CheckError) as info:
        segql.to_sql("bucket('x') < 10", data.schema, dialect="sqlite")
    assert info.value.code == "unsupported-construct"
    assert "md5" in info.value.diagnostic.message
