"""Per-dialect SQL snapshots (golden files) for supported and experimental dialects.

Regenerate with ``SEGQL_UPDATE_SNAPSHOTS=1 pytest tests/test_sql_snapshots.py`` and review
the diff. Every snapshot must parse back with sqlglot in its own dialect.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlglot
from fixture_cases import load
from shop_schema import shop_schema

import segql
from segql.pipeline import to_sql

HERE = Path(__file__).parent / "fixtures" / "sql"
AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
SUPPORTED = ["duckdb", "postgres", "sqlite", "spark", "clickhouse"]
EXPERIMENTAL = ["bigquery", "snowflake", "trino", "redshift", "mysql"]
UPDATE = os.environ.get("SEGQL_UPDATE_SNAPSHOTS") == "1"
SCHEMA = shop_schema()


def _segments() -> list[tuple[str, str]]:
    return [(case.name, case.raw.strip()) for case in load("sql/segments.test", sections=())]


SEGMENTS = _segments()
CASES = [(d, n, e) for d in SUPPORTED + EXPERIMENTAL for n, e in SEGMENTS]


def _compile(dialect: str, expr: str) -> str:
    try:
        return to_sql(expr, SCHEMA, dialect=dialect, as_of=AS_OF) + "\n"
    except segql.CheckError as e:
        return f"-- refused: {e.code}: {e.diagnostic.message}\n"


@pytest.mark.parametrize(("dialect", "name", "expr"), CASES, ids=[f"{d}-{n}" for d, n, _ in CASES])
def test_snapshot(dialect: str, name: str, expr: str) -> None:
    path = HERE / dialect / f"{name}.sql"
    got = _compile(dialect, expr)
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"new snapshot written to {path}; review it and run again")
    assert got == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("dialect", "name", "expr"), CASES, ids=[f"{d}-{n}" for d, n, _ in CASES])
def test_snapshot_parses_back(dialect: str, name: str, expr: str) -> None:
    text = (HERE / dialect / f"{name}.sql").read_text(encoding="utf-8")
    if text.startswith("-- refused"):
        assert dialect not in SUPPORTED or name in REFUSED_ON_SUPPORTED.get(dialect, ())
        return
    tree = sqlglot.parse_one(text, read=dialect)
    assert tree is not None and tree.find(sqlglot.exp.Select) is not None


# no list type (ClickHouse: no list that can be null)
REFUSED_ON_SUPPORTED: dict[str, tuple[str, ...]] = {"sqlite": ("lists",), "clickhouse": ("lists",)}


def test_supported_dialects_refuse_nothing_here() -> None:
    for dialect in SUPPORTED:
        for name, expr in SEGMENTS:
            if name in REFUSED_ON_SUPPORTED.get(dialect, ()):
                continue
            to_sql(expr, SCHEMA, dialect=dialect, as_of=AS_OF)


def test_unknown_dialect_is_a_clear_error() -> None:
    with pytest.raises(segql.CheckError) as info:
        to_sql("age > 1", SCHEMA, dialect="nosuchsql")
    assert info.value.code == "unknown-dialect"


# Functions only DuckDB (segql's reference engine) knows: the experimental dialects must get
# sqlglot's typed nodes in their own spelling instead (issue 10).
DUCKDB_ONLY = ("ISODOW(", "EPOCH_US(", "LIST_CONTAINS(", "LEN(", "TIMEZONE(", "READ_PARQUET(")


@pytest.mark.parametrize("dialect", EXPERIMENTAL)
def test_experimental_sql_has_no_duckdb_only_functions(dialect: str) -> None:
    for path in sorted((HERE / dialect).glob("*.sql")):
        text = path.read_text(encoding="utf-8").upper()
        found = [f for f in DUCKDB_ONLY if f in text]
        assert not found, f"{path.name}: {found}"
