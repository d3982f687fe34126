"""Differential tests: random data with nulls and random well-typed segments; the members
from the in-process evaluator, DuckDB, SQLite and PostgreSQL must be identical."""

from __future__ import annotations

from typing import Any

import pytest
from engines import IN_CI, PG_DSN, Dataset, PgDatabase, load_duckdb, load_sqlite, run_rows
from gen import AS_OF, datasets, expressions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segql
from segql.checker import typed
from segql.evaluate import Predicate
from segql.sql import to_sql


def _evaluate(data: Dataset, expr: str) -> set[Any]:
    pred = Predicate(typed(expr, data.schema), data.schema)
    return {c["id"] for c in data.contacts() if pred(c, data.events_of(c["id"]), AS_OF)}


def _compile(expr: str, data: Dataset, dialect: str) -> str | None:
    try:
        return to_sql(expr, data.schema, dialect=dialect, as_of=AS_OF)
    except segql.CheckError as e:
        assert e.code == "unsupported-construct", e
        assert dialect == "sqlite"
        return None


def _run_all(data: Dataset, exprs: list[str], pg: bool) -> None:
    duck = load_duckdb(data)
    lite = load_sqlite(data)
    pgdb = PgDatabase(data) if pg else None
    try:
        for expr in exprs:
            expected = _evaluate(data, expr)
            got = set(run_rows(duck, _compile(expr, data, "duckdb") or ""))
            assert got == expected, ("duckdb", expr)
            sql = _compile(expr, data, "sqlite")
            if sql is not None:
                assert set(run_rows(lite, sql)) == expected, ("sqlite", expr)
            if pgdb is not None:
                sql = _compile(expr, data, "postgres")
                assert sql is not None
                assert set(pgdb.run(sql)) == expected, ("postgres", expr)
    finally:
        duck.close()
        lite.close()
        if pgdb is not None:
            pgdb.close()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_evaluator_duckdb_sqlite_agree(data: Dataset, exprs: list[str]) -> None:
    _run_all(data, exprs, pg=False)


@pytest.mark.postgres
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_postgres_agrees_too(data: Dataset, exprs: list[str]) -> None:
    if PG_DSN is None:
        if IN_CI:
            pytest.fail("CI=true but SEGQL_PG_DSN is not set")
        pytest.skip("no PostgreSQL server (set SEGQL_PG_DSN)")
    _run_all(data, exprs, pg=True)
