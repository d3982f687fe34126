"""Differential tests: random data with nulls and random well-typed segments; the members
from the in-process evaluator, DuckDB, SQLite, PostgreSQL, Spark and ClickHouse must be
identical."""

from __future__ import annotations

from typing import Any

import pytest
from engines import Dataset, assert_batch_agrees, assert_engines_agree, require, require_pg
from gen import AS_OF, datasets, expressions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segql.backends.python import Predicate
from segql.checker import typed


def _evaluate(data: Dataset, expr: str) -> set[Any]:
    pred = Predicate(typed(expr, data.schema), data.schema)
    return {c["id"] for c in data.contacts() if pred(c, data.events_of(c["id"]), AS_OF)}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_evaluator_duckdb_sqlite_agree(data: Dataset, exprs: list[str]) -> None:
    want = {e: _evaluate(data, e) for e in exprs}
    assert_engines_agree(data, exprs, want.__getitem__, as_of=AS_OF, pg=False)
    assert_batch_agrees(data, want, as_of=AS_OF, pg=False)


@pytest.mark.postgres
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_postgres_agrees_too(data: Dataset, exprs: list[str]) -> None:
    require_pg()
    want = {e: _evaluate(data, e) for e in exprs}
    assert_engines_agree(data, exprs, want.__getitem__, as_of=AS_OF, pg=True)
    assert_batch_agrees(data, want, as_of=AS_OF, pg=True)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_clickhouse_agrees_too(data: Dataset, exprs: list[str]) -> None:
    require("chdb")
    assert_engines_agree(
        data, exprs, lambda e: _evaluate(data, e), as_of=AS_OF, pg=False, clickhouse=True
    )


@pytest.mark.postgres
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(zoned=True), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_a_schema_time_zone_agrees(data: Dataset, exprs: list[str]) -> None:
    """Calendar days, weeks and months on a zone's wall clock (DST, half-hour offsets):
    the evaluator, DuckDB, PostgreSQL and ClickHouse agree (SQLite refuses zones)."""
    require_pg()
    assert_engines_agree(
        data, exprs, lambda e: _evaluate(data, e), as_of=AS_OF, pg=True, clickhouse=True
    )


# Spark runs each query as jobs on a local cluster (~0.1 s even for tiny data): fewer examples.
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), exprs=st.lists(expressions, min_size=1, max_size=6))
def test_spark_agrees_too(data: Dataset, exprs: list[str]) -> None:
    require("pyspark")
    assert_engines_agree(
        data, exprs, lambda e: _evaluate(data, e), as_of=AS_OF, pg=False, spark=True
    )
