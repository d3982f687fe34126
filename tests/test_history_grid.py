"""A history's one-statement time grid (each stream's pass shared, its aggregates kept per
point) equals one query per point, for every corpus case, on DuckDB and SQLite: the
sizes and who entered and exited, across the corpus's boundary times."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from corpus_data import AS_OF, CASES, corpus_dataset
from engines import engine_database

import segql
from segql.engines import history as hist

DATA = corpus_dataset()
GRIDS = {
    "weekly": [AS_OF - dt.timedelta(weeks=w) for w in range(8, -1, -1)],
    "daily": [AS_OF - dt.timedelta(days=d) for d in range(14, -1, -1)],
    "half days around the 30- and 60-day boundaries": [
        AS_OF - dt.timedelta(hours=h) for h in (1464, 1452, 1440, 732, 720, 708, 12, 0)
    ],
}


@pytest.fixture(scope="module", params=["duckdb", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with engine_database(request.param, DATA, tmp_path_factory.mktemp("grid")) as d:
        yield d


@pytest.mark.parametrize("grid", list(GRIDS))
def test_the_grid_equals_one_query_per_point(db: Any, grid: str, tmp_path: Path) -> None:
    at = GRIDS[grid]
    dialect = db.dialect.name
    checked = 0
    for expr, _, unsupported in CASES:
        if dialect in unsupported:
            continue
        try:
            want = hist._per_point(db, expr, DATA.schema, at, None)
        except segql.SegqlError:  # refused on this engine (lists on SQLite): not a grid question
            continue
        got = hist.history(db, expr, DATA.schema, at, None)
        assert got == want, expr
        checked += 1
    assert checked > 50
