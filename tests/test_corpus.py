"""Hand-written segments with expected members, run on every supported engine and the
in-process evaluator (where it can run them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from corpus_data import AS_OF, CASES, corpus_dataset
from engines import (
    ChdbData,
    PgDatabase,
    SparkData,
    load_duckdb,
    load_sqlite,
    require_pg,
    run_rows,
)

import segql
from segql.checker import typed
from segql.ir import nodes as ir
from segql.pipeline import to_sql

DATA = corpus_dataset()
IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def duck() -> Any:
    return load_duckdb(DATA)


@pytest.fixture(scope="module")
def lite() -> Any:
    return load_sqlite(DATA)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgDatabase]:
    require_pg()
    db = PgDatabase(DATA)
    yield db
    db.close()


def _sql(expr: str, dialect: str) -> str:
    return to_sql(expr, DATA.schema, dialect=dialect, as_of=AS_OF)


@pytest.mark.parametrize(("expr", "expected", "unsupported"), CASES, ids=IDS)
def test_duckdb(duck: Any, expr: str, expected: set[int], unsupported: set[str]) -> None:
    assert set(run_rows(duck, _sql(expr, "duckdb"))) == expected


@pytest.mark.parametrize(("expr", "expected", "unsupported"), CASES, ids=IDS)
def test_sqlite(lite: Any, expr: str, expected: set[int], unsupported: set[str]) -> None:
    if "sqlite" in unsupported:
        with pytest.raises(segql.CheckError) as info:
            _sql(expr, "sqlite")
        assert info.value.code == "unsupported-construct"
        return
    assert set(run_rows(lite, _sql(expr, "sqlite"))) == expected


@pytest.mark.postgres
@pytest.mark.parametrize(("expr", "expected", "unsupported"), CASES, ids=IDS)
def test_postgres(pg: PgDatabase, expr: str, expected: set[int], unsupported: set[str]) -> None:
    assert set(pg.run(_sql(expr, "postgres"))) == expected


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkData]:
    db = SparkData(DATA)
    yield db
    db.close()


@pytest.fixture(scope="module")
def clickhouse() -> Iterator[ChdbData]:
    db = ChdbData(DATA)
    yield db
    db.close()


@pytest.mark.parametrize(("expr", "expected", "unsupported"), CASES, ids=IDS)
def test_spark(spark: SparkData, expr: str, expected: set[int], unsupported: set[str]) -> None:
    assert set(spark.run(_sql(expr, "spark"))) == expected


# ClickHouse arrays cannot be null, so list fields are refused there.
LISTS = {"tags", "lucky_numbers"}


@pytest.mark.parametrize(("expr", "expected", "unsupported"), CASES, ids=IDS)
def test_clickhouse(
    clickhouse: ChdbData, expr: str, expected: set[int], unsupported: set[str]
) -> None:
    if any(name in expr for name in LISTS):
        with pytest.raises(segql.CheckError) as info:
            _sql(expr, "clickhouse")
        assert info.value.code == "unsupported-construct"
        return
    assert set(clickhouse.run(_sql(expr, "clickhouse"))) == expected


@pytest.mark.parametrize(("expr", "expected", "unsupported"), CASES, ids=IDS)
def test_in_process(expr: str, expected: set[int], unsupported: set[str]) -> None:
    from segql.pipeline import matches

    tree = typed(expr, DATA.schema)
    if ir.needs_population(tree):
        pytest.skip("needs the whole population; only SQL engines run it")
    got = {
        c["id"]
        for c in DATA.contacts()
        if matches(tree, DATA.schema, contact=c, events=DATA.events_of(c["id"]), as_of=AS_OF)
    }
    assert got == expected


def test_same_as_of_gives_identical_sql() -> None:
    for expr, _, _ in CASES:
        for dialect in ("duckdb", "postgres"):
            assert _sql(expr, dialect) == _sql(expr, dialect)
