"""The DuckDB engine: database files, file sources, data frames, schema validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from corpus_data import AS_OF, corpus_dataset
from engines import load_duckdb

import segql
from segql.core.schema import FieldDef, Located, Source
from segql.core.types import Type
from segql.engine import Database

DATA = corpus_dataset()


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    import duckdb

    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.close()
    return path


def test_count_members_and_arrow(db_file: Path) -> None:
    with Database(db_file) as db:
        assert db.count("purchases > 3", DATA.schema, as_of=AS_OF) == 1
        assert sorted(db.member_ids("country in ['DE', 'FR']", DATA.schema, as_of=AS_OF)) == [
            1,
            4,
        ]
        table = db.members(
            "count(orders) >= 1", DATA.schema, as_of=AS_OF, fields=["email", "first name"]
        )
        assert table.column_names == ["id", "email", "first name"]
        assert sorted(table.column("id").to_pylist()) == [1, 2, 4, 5]


def test_missing_database_file(tmp_path: Path) -> None:
    with pytest.raises(segql.EngineError) as info:
        Database(tmp_path / "nope.duckdb")
    assert info.value.code == "missing-database"


def test_missing_table_and_column_are_diagnostics(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.execute("ALTER TABLE orders RENAME COLUMN amount TO amout")
    con.execute("ALTER TABLE email_events RENAME TO email_event")
    con.close()
    with Database(path) as db, pytest.raises(segql.EngineError) as info:
        db.count("purchases > 3", DATA.schema, as_of=AS_OF)
    msgs = {d.message: d.hints for d in info.value.diagnostics}
    assert "table `orders` has no column `amount`" in msgs
    assert "did you mean `amout`?" in msgs["table `orders` has no column `amount`"]
    assert (
        "did you mean `email_event`?"
        in msgs["table `email_events` of stream `email_opens` does not exist"]
    )


def test_missing_column_points_into_the_schema_file() -> None:
    text = "fields:\n  amount: decimal\n"
    where = Located(
        file="schema.yaml",
        text=text,
        span=segql.Span(start=10, end=16, line=2, column=3, end_line=2, end_column=9),
    )
    orders = DATA.schema.streams["orders"]
    fields = dict(orders.fields)
    fields["amount"] = FieldDef(name="amount", type=Type.DECIMAL, column="amount", where=where)
    schema = dataclasses.replace(
        DATA.schema,
        streams={**DATA.schema.streams, "orders": dataclasses.replace(orders, fields=fields)},
    )
    con = load_duckdb(DATA)
    con.execute("ALTER TABLE orders RENAME COLUMN amount TO amout")
    db = Database(connection=con)
    with pytest.raises(segql.EngineError) as info:
        db.count("purchases > 3", schema, as_of=AS_OF)
    d = info.value.diagnostics[0]
    assert (d.file, d.line, d.column) == ("schema.yaml", 2, 3)
    assert "^~~~~~" in segql.core.diagnostics.render(d)


def _file_schema(tmp_path: Path, suffix: str) -> Any:

    con = load_duckdb(DATA)
    for table in ("contacts", "orders", "email_events"):
        out = tmp_path / f"{table}.{suffix}"
        fmt = "PARQUET" if suffix == "parquet" else "CSV, HEADER"
        con.execute(f"COPY {table} TO '{out}' (FORMAT {fmt})")
    s = DATA.schema
    return dataclasses.replace(
        s,
        entity=dataclasses.replace(s.entity, source=Source(file=tmp_path / f"contacts.{suffix}")),
        streams={
            n: dataclasses.replace(st, source=Source(file=tmp_path / f"{st.source.table}.{suffix}"))
            for n, st in s.streams.items()
        },
    )


def test_parquet_file_sources(tmp_path: Path) -> None:
    schema = _file_schema(tmp_path, "parquet")
    with Database(file_roots=[tmp_path]) as db:
        assert sorted(db.member_ids("total_spent > 1000", schema, as_of=AS_OF)) == [1, 5]
        assert "read_parquet" in db.sql("total_spent > 1000", schema, as_of=AS_OF).lower()


def test_csv_file_sources(tmp_path: Path) -> None:
    schema = _file_schema(tmp_path, "csv")
    # CSV has no list type; stick to scalar fields.
    with Database(file_roots=[tmp_path]) as db:
        assert sorted(db.member_ids("last_order < 30d", schema, as_of=AS_OF)) == [1]


def test_missing_file_source(tmp_path: Path) -> None:
    schema = _file_schema(tmp_path, "parquet")
    (tmp_path / "orders.parquet").unlink()
    with Database(file_roots=[tmp_path]) as db, pytest.raises(segql.EngineError) as info:
        db.count("purchases > 1", schema, as_of=AS_OF)
    assert info.value.code == "missing-table"


def _frames(kind: str) -> dict[str, Any]:
    con = load_duckdb(DATA)
    out: dict[str, Any] = {}
    for table in ("contacts", "orders", "email_events"):
        rel = con.sql(f'SELECT * FROM "{table}"')
        out[table] = {"pandas": rel.df, "arrow": rel.to_arrow_table, "polars": rel.pl}[kind]()
    return out


@pytest.mark.parametrize("kind", ["pandas", "arrow", "polars"])
def test_data_frames(kind: str) -> None:
    if kind == "polars":
        pytest.importorskip("polars")
    with Database(frames=_frames(kind)) as db:
        assert sorted(db.member_ids("has orders within 30d", DATA.schema, as_of=AS_OF)) == [1, 2]


def test_engine_errors_are_segql_errors() -> None:
    con = load_duckdb(DATA)
    con.execute(
        "CREATE OR REPLACE TABLE orders AS SELECT contact_id, 'x' AS ordered_at, "
        "amount, category, product, quantity, gift FROM orders"
    )
    with Database(connection=con) as db, pytest.raises(segql.EngineError) as info:
        db.count("last_order < 30d", DATA.schema, as_of=AS_OF)
    assert info.value.code == "engine"


def test_as_of_defaults_to_now() -> None:
    with Database(connection=load_duckdb(DATA)) as db:
        # Long after the data: nobody ordered in the last 30 days.
        assert db.count("last_order < 30d", DATA.schema) == 0
        # A date means its midnight UTC: 30 days before is 2026-05-02 00:00, so contact 2's
        # order at 12:00 that day counts too.
        assert db.count("last_order < 30d", DATA.schema, as_of=dt.date(2026, 6, 1)) == 2


def test_own_connections_are_tuned_for_segments() -> None:
    """Perfect-hash aggregation for dense integer keys, sized to memory; no DuckDB
    progress bar (it would write into exported output)."""
    with Database() as db:
        bits = db.con.execute("SELECT current_setting('perfect_ht_threshold')").fetchone()[0]
        bar = db.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]
    assert 12 <= int(bits) <= 24
    assert bar is False


def test_perfect_hash_bits_fit_memory() -> None:
    from segql.backends.duckdb.connection import perfect_hash_bits as _perfect_hash_bits

    assert _perfect_hash_bits(2, 24 << 30) == 22  # this project's 2-core, 24 GiB machine
    assert _perfect_hash_bits(8, 8 << 30) == 19
    assert _perfect_hash_bits(64, 8 << 30) == 16
    assert _perfect_hash_bits(1, 0) == 12  # memory unknown: DuckDB's default
    assert _perfect_hash_bits(1, 1 << 50) == 24  # capped
    for threads, memory in [(1, 1 << 30), (4, 16 << 30), (16, 64 << 30)]:
        bits = _perfect_hash_bits(threads, memory)
        assert bits == 12 or (2**bits) * 128 * threads <= memory // 16


def test_a_given_connection_keeps_its_settings() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET perfect_ht_threshold = 13")
    Database(connection=con)
    assert con.execute("SELECT current_setting('perfect_ht_threshold')").fetchone()[0] == 13


@pytest.mark.parametrize("numpy", [True, False])
def test_member_ids_are_python_values(monkeypatch: pytest.MonkeyPatch, numpy: bool) -> None:
    import duckdb

    from segql import engine

    monkeypatch.setattr(engine, "_has_numpy", lambda: numpy)
    with Database(connection=load_duckdb(DATA)) as db:
        ids = db.member_ids("country in ['DE', 'FR']", DATA.schema, as_of=AS_OF)
    assert ids and all(type(i) is int for i in ids)
    # A text key comes back as str either way.
    con = duckdb.connect()
    con.execute("CREATE TABLE contacts (id VARCHAR, age INTEGER)")
    con.execute("INSERT INTO contacts VALUES ('a', 30), ('b', 10), ('c', NULL)")
    ent = dataclasses.replace(
        DATA.schema.entity,
        fields={"age": FieldDef(name="age", type=Type.INTEGER, column="age")},
    )
    schema = dataclasses.replace(DATA.schema, entity=ent, streams={}, traits={}, segments={})
    with Database(connection=con) as db:
        assert db.member_ids("age > 18", schema) == ["a"]


def test_validation_is_remembered_per_schema_without_keeping_it_alive(db_file: Path) -> None:
    import gc
    import weakref

    schema = dataclasses.replace(DATA.schema)
    with Database(db_file) as db:
        db.validate(schema)
        assert db._checked.get(id(schema)) is schema
        ref = weakref.ref(schema)
        del schema
        gc.collect()
        assert ref() is None
        assert len(db._checked) == 0
