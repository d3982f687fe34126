"""Every engine through `segql.connect(url)` and `--db URL` (CONTRACT §7): the same counts,
members, Arrow tables and export files as DuckDB, schemas checked against the real
tables, qualified table names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus_data import AS_OF, corpus_dataset
from engines import (
    ENGINE_KINDS,
    PgDatabase,
    engine_database,
    load_duckdb,
    require,
    require_pg,
    sqlite_file,
)

import segql
from segql.engines import connect

DATA = corpus_dataset()
SEGMENTS = [
    "purchases >= 2",
    "country in ['DE', 'FR'] or age > 60",
    "has orders where amount > 100 within 90d",
    "last_open < 30d and not (email_consent = false)",
    "top 50% by total_spent",
    "signup_at > 2025-01-01 and coalesce(score, 0) >= 0.5",
]
FIELDS = ["email", "age", "signup_at", "email_consent", "credit", "purchases", "last_order"]
ENGINES = ENGINE_KINDS


def _sqlite_file(path: Path) -> Path:
    return sqlite_file(DATA, path)


@pytest.fixture(scope="module")
def duck_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("engines") / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.execute("CREATE SCHEMA crm")
    con.execute("CREATE TABLE crm.customers AS SELECT * FROM contacts")
    con.close()
    return path


@pytest.fixture(scope="module", params=ENGINES)
def db(
    request: pytest.FixtureRequest, reference: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    kind = request.param
    if kind == "duckdb":
        # (a second DuckDB connection to the same file shares the locked-down instance)
        yield reference
    else:
        with engine_database(kind, DATA, tmp_path_factory.mktemp("engines")) as d:
            yield d


def _schema(drop_lists: bool) -> Any:
    """The corpus schema (without list fields for ClickHouse, which refuses them)."""
    import dataclasses

    schema = DATA.schema
    if not drop_lists:
        return schema
    fields = {n: f for n, f in schema.entity.fields.items() if not f.type.is_list}
    return dataclasses.replace(schema, entity=dataclasses.replace(schema.entity, fields=fields))


@pytest.fixture(scope="module")
def reference(duck_file: Path) -> Iterator[Any]:
    with connect(str(duck_file)) as d:
        yield d


def _is_clickhouse(db: Any) -> bool:
    return getattr(getattr(db, "adapter", None), "dialect", "") == "clickhouse"


@pytest.mark.parametrize("expr", SEGMENTS)
def test_count_and_members_equal_duckdb(db: Any, reference: Any, expr: str) -> None:
    schema = _schema(_is_clickhouse(db))
    want = sorted(reference.member_ids(expr, DATA.schema, as_of=AS_OF))
    assert db.count(expr, schema, as_of=AS_OF) == len(want)
    assert sorted(db.member_ids(expr, schema, as_of=AS_OF)) == want


def test_members_with_fields_equal_duckdb(db: Any, reference: Any) -> None:
    schema = _schema(_is_clickhouse(db))
    got = db.members("true", schema, as_of=AS_OF, fields=FIELDS).to_pylist()
    want = reference.members("true", DATA.schema, as_of=AS_OF, fields=FIELDS).to_pylist()
    key = lambda r: r["id"]  # noqa: E731
    assert [_plain(r) for r in sorted(got, key=key)] == [_plain(r) for r in sorted(want, key=key)]


VALUES = [
    "value_class",
    "age_band",
    "last_value(orders.product) as product",
    "round(avg_order, 2) as `average order`",
    "count(orders where amount > avg_order) as above, days_since(last_order) as idle",
]


def test_members_with_values_equal_duckdb(db: Any, reference: Any) -> None:
    """CONTRACT §6.2: segmentations and named value expressions beside the key."""
    from segql.engines.selection import split_fields

    schema = _schema(_is_clickhouse(db))
    fields = [f for v in VALUES for f in split_fields(v)]
    got = db.members("true", schema, as_of=AS_OF, fields=fields)
    want = reference.members("true", DATA.schema, as_of=AS_OF, fields=fields)
    assert got.column_names == ["id", "value_class", "age_band", "product", "average order",
                                "above", "idle"]  # fmt: skip
    key = lambda r: r["id"]  # noqa: E731
    rows = sorted(got.to_pylist(), key=key)
    assert [_plain(r) for r in rows] == [_plain(r) for r in sorted(want.to_pylist(), key=key)]
    assert rows[0]["value_class"] == "very_good" and rows[0]["product"] == "boots"


def test_membership_and_counts_equal_one_query_per_segment(db: Any) -> None:
    """All segments and segmentations in one query agree with one query each."""
    schema = _schema(_is_clickhouse(db))
    table = db.membership(schema, as_of=AS_OF)
    assert table.column_names == ["id", "vip", "lapsed_vip", "buyers", "value_class", "age_band"]
    rows = table.to_pylist()
    assert len(rows) == len(DATA.contacts())
    for name in schema.segments:
        want = set(db.member_ids(f"in segment {name}", schema, as_of=AS_OF))
        assert {r["id"] for r in rows if r[name]} == want, name
        assert all(r[name] in (True, False) for r in rows)  # never null
    for sg in ("value_class", "age_band"):
        for cls in (*schema.segmentations[sg].values, None):
            test = f"{sg} is null" if cls is None else f"{sg} = '{cls}'"
            want = set(db.member_ids(test, schema, as_of=AS_OF))
            assert {r["id"] for r in rows if r[sg] == cls} == want, test
    counts = db.counts(schema, ["@vip", "buyers", "value_class"], as_of=AS_OF)
    assert counts == {
        "contacts": 6,
        "vip": 1,
        "buyers": 4,
        "value_class": {"very_good": 1, "good": 0, "occasional": 3, "prospects": 2},
    }
    with pytest.raises(segql.SegqlError) as info:
        db.counts(schema, ["vip", "vpi"], as_of=AS_OF)
    assert info.value.diagnostics[0].code == "unknown-segment"


def test_profile_equals_pandas(db: Any, reference: Any) -> None:
    """CONTRACT §6.3, computed by each engine, against pandas over the members' values."""
    from profile_reference import assert_profile

    schema = _schema(_is_clickhouse(db))
    metrics = ["total_spent", "purchases", "age", "idle"]
    specs = ["total_spent", "purchases", "age", "days_since(last_order) as idle"]
    got = db.profile(schema, ["@value_class"], specs, as_of=AS_OF)
    values = reference.members(
        "true", DATA.schema, as_of=AS_OF, fields=["value_class", *specs]
    ).to_pandas()
    groups = {c: values.value_class == c for c in schema.segmentations["value_class"].values}
    assert_profile(got, values, groups, metrics, {m: "value_class" for m in metrics})
    both = db.profile(schema, ["@vip", "age > 30", "@age_band"], ["score"], as_of=AS_OF)
    assert [g["name"] for g in both["groups"]] == [
        "vip", "age > 30", "age_band = young", "age_band = middle"
    ]  # fmt: skip
    assert [g["size"] for g in both["groups"]] == [1, 3, 1, 2]
    assert set(both["separation"]) == {"age_band"}


def test_overlap_equals_set_arithmetic(db: Any) -> None:
    schema = _schema(_is_clickhouse(db))
    specs = ["@vip", "@buyers", "age > 30", "country in ['DE', 'US']"]
    got = db.overlap(schema, specs, as_of=AS_OF)
    sets = [
        set(db.member_ids(f"in segment {s[1:]}" if s[0] == "@" else s, schema, as_of=AS_OF))
        for s in specs
    ]  # fmt: skip
    assert [x["size"] for x in got["segments"]] == [len(x) for x in sets]
    k = 0
    for i in range(len(specs)):
        for j in range(i + 1, len(specs)):
            both = len(sets[i] & sets[j])
            union = len(sets[i] | sets[j])
            assert got["pairs"][k]["both"] == both
            assert got["pairs"][k]["jaccard"] == (both / union if union else None)
            k += 1


@pytest.mark.parametrize("key", [1, 2, 3])
def test_explain_agrees_with_each_clause_alone(db: Any, key: int) -> None:
    """Each clause's truth for the contact: true when the contact is a member of the clause,
    false when of its negation, unknown when of neither."""
    schema = _schema(_is_clickhouse(db))
    tree = db.explain(
        "in segment lapsed_vip or (age > 30 and country != 'DE') or last_order < first_order + 52w",
        schema, key, as_of=AS_OF,
    )  # fmt: skip
    seen = 0
    stack = [tree]
    while stack:
        c = stack.pop()
        stack.extend(c.children)
        text = c.text
        yes = key in db.member_ids(text, schema, as_of=AS_OF)
        no = key in db.member_ids(f"not ({text})", schema, as_of=AS_OF)
        assert c.truth == (True if yes else False if no else None), text
        seen += 1
    assert seen >= 9
    cls = db.explain("@value_class", schema, key, as_of=AS_OF)
    assert cls.values == [{1: "very_good", 2: "occasional", 3: "prospects"}[key]]
    with pytest.raises(segql.SegqlError) as info:
        db.explain("@vip", schema, 99, as_of=AS_OF)
    assert "no contact has the key" in info.value.diagnostics[0].message


def test_every_corpus_case_in_batches_of_ten(db: Any) -> None:
    """The batch plans (a `has` counted in its pass, sequences and conditions reading the
    contact as key sets) give every corpus case's members, ten segments per query."""
    import dataclasses

    from corpus_data import CASES

    from segql.core.schema import SegmentDef

    dialect = getattr(getattr(db, "adapter", None), "dialect", "duckdb")
    cases = [
        (e, want)
        for e, want, unsupported in CASES
        if dialect not in unsupported
        and not (dialect == "clickhouse" and ("tags" in e or "lucky_numbers" in e))
    ]
    base_schema = _schema(_is_clickhouse(db))
    for start in range(0, len(cases), 10):
        chunk = cases[start : start + 10]
        segs = {f"c{i}": SegmentDef(name=f"c{i}", text=e) for i, (e, _) in enumerate(chunk)}
        schema = dataclasses.replace(base_schema, segments={**base_schema.segments, **segs})
        rows = db.membership(schema, list(segs), as_of=AS_OF).to_pylist()
        for i, (e, want) in enumerate(chunk):
            assert {r["id"] for r in rows if r[f"c{i}"]} == want, e


HISTORIES = [
    # windows: each stream's pass keeps an aggregate per point
    "has orders within 91d or has email_opens within 30d",
    # whole histories: transitions at the contacts' steps (backends/sql/transitions.py),
    # counts and sums only, and with a max and a last (every contact joined)
    "count(orders) >= 2 and sum(orders.amount) > 100 or country = 'DE' and has orders",
    "count(orders) < 3 and (last(orders) is null or max(orders.amount) < 200)",
]


@pytest.mark.parametrize("expr", HISTORIES)
def test_history_and_diff_equal_counts_and_set_differences(db: Any, expr: str) -> None:
    """CONTRACT §6.4: each point is the count at its as_of; entered and exited are the set
    differences of consecutive points' members."""
    schema = _schema(_is_clickhouse(db))
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    points = db.history(expr, schema, start=start, end=AS_OF, every="13w")
    assert [p["as_of"] for p in points] == [
        "2025-06-01T00:00:00Z", "2025-08-31T00:00:00Z", "2025-11-30T00:00:00Z",
        "2026-03-01T00:00:00Z", "2026-05-31T00:00:00Z",
    ]  # fmt: skip
    before: set[Any] | None = None
    for p in points:
        at = dt.datetime.fromisoformat(p["as_of"].replace("Z", "+00:00"))
        now = set(db.member_ids(expr, schema, as_of=at))
        assert p["size"] == db.count(expr, schema, as_of=at) == len(now)
        if before is None:
            assert p["entered"] is None and p["exited"] is None
        else:
            assert (p["entered"], p["exited"]) == (len(now - before), len(before - now))
        before = now
    if expr == HISTORIES[0]:
        assert any(p["entered"] for p in points[1:]) and any(p["exited"] for p in points[1:])
    else:
        assert any(p["entered"] or p["exited"] for p in points[1:])
    d = db.diff(expr, schema, as_of=AS_OF, against=start, members=True)
    now = set(db.member_ids(expr, schema, as_of=AS_OF))
    then = set(db.member_ids(expr, schema, as_of=start))
    assert d["members"] == {
        "entered": sorted(now - then), "exited": sorted(then - now), "stayed": sorted(now & then)
    }  # fmt: skip
    assert (d["entered"], d["exited"], d["stayed"]) == (
        len(now - then), len(then - now), len(now & then)
    )  # fmt: skip


def test_the_reports_history_equals_duckdbs(db: Any, reference: Any) -> None:
    """`segql report --history` on every engine: its default span (26 weeks before the
    as_of, on the schema zone's calendar), here every 13 weeks, gives DuckDB's points."""
    from segql.checker import typed
    from segql.tools import report_history

    schema = _schema(_is_clickhouse(db))
    expr = "has orders within 91d or has email_opens within 30d"
    request = report_history.HistoryRequest(targets=((expr, typed(expr, schema)),), every="13w")
    plan = report_history.plan(schema, request, AS_OF)
    got = report_history.collect(db, schema, plan)
    assert got == report_history.collect(reference, schema, plan)
    points = got["segments"][0]["points"]
    assert [p["as_of"] for p in points] == [
        "2025-12-01T12:00:00Z", "2026-03-02T12:00:00Z", "2026-06-01T12:00:00Z"
    ]  # fmt: skip
    assert any(p["entered"] for p in points) and any(p["exited"] for p in points)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Values compared across engines: instants in UTC, decimals as numbers."""
    out = {}
    for k, v in row.items():
        if isinstance(v, dt.datetime):
            v = v.astimezone(dt.UTC) if v.tzinfo else v.replace(tzinfo=dt.UTC)
        elif v is not None and k in ("credit",):
            v = float(v)
        out[k] = v
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_exports_equal_duckdb(db: Any, reference: Any, fmt: str, tmp_path: Path) -> None:
    schema = _schema(_is_clickhouse(db))
    fields = ["email", "age", "signup_at", "email_consent"]
    ours, theirs = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    n = db.export("purchases >= 1", schema, ours, format=fmt, as_of=AS_OF, fields=fields)
    m = reference.export(
        "purchases >= 1", DATA.schema, theirs, format=fmt, as_of=AS_OF, fields=fields
    )
    assert n == m > 0
    assert _rows(ours, fmt) == _rows(theirs, fmt)


def _rows(path: Path, fmt: str) -> list[Any]:
    if fmt == "csv":
        lines = path.read_text(encoding="utf-8").splitlines()
        return [lines[0], *sorted(lines[1:])]
    if fmt == "jsonl":  # the same bytes as DuckDB's writer, line by line
        return sorted(path.read_text(encoding="utf-8").splitlines())
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    return sorted((_plain(r) for r in rows), key=lambda r: r["id"])


def test_schema_mismatches_are_positioned_diagnostics(db: Any) -> None:
    import dataclasses

    schema = _schema(_is_clickhouse(db))
    from segql.core.schema import Source

    wrong = dataclasses.replace(
        schema, entity=dataclasses.replace(schema.entity, source=Source(table="contact"))
    )
    with pytest.raises(segql.EngineError) as info:
        db.count("true", wrong, as_of=AS_OF)
    assert info.value.code == "missing-table"
    assert any("contacts" in h for h in info.value.diagnostic.hints)


def test_qualified_table_names_on_duckdb(duck_file: Path, tmp_path: Path) -> None:
    import dataclasses
    import shutil

    copy = tmp_path / "copy.duckdb"  # its own DuckDB instance
    shutil.copy(duck_file, copy)
    from segql.core.schema import Source

    schema = dataclasses.replace(
        DATA.schema,
        entity=dataclasses.replace(DATA.schema.entity, source=Source(table="crm.customers")),
    )
    missing = dataclasses.replace(
        DATA.schema,
        entity=dataclasses.replace(DATA.schema.entity, source=Source(table="customers")),
    )
    with connect(f"duckdb:///{copy}") as d:
        assert d.count("age > 30", schema, as_of=AS_OF) == 3
        with pytest.raises(segql.EngineError) as info:
            d.count("true", missing, as_of=AS_OF)
    assert "did you mean `crm.customers`?" in info.value.diagnostic.hints


def test_qualified_table_names_are_quoted_per_part() -> None:
    import dataclasses

    from segql.core.schema import Source

    schema = dataclasses.replace(
        DATA.schema,
        entity=dataclasses.replace(DATA.schema.entity, source=Source(table="crm.Customers")),
    )
    for dialect, text in [
        ("duckdb", '"crm"."Customers"'),
        ("postgres", '"crm"."Customers"'),
        ("spark", "`crm`.`Customers`"),
        ("clickhouse", '"crm"."Customers"'),
    ]:
        assert text in segql.to_sql("age > 1", schema, dialect=dialect), dialect


def test_unknown_urls_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(segql.EngineError) as info:
        connect("mysql://localhost/db")
    assert info.value.code == "unknown-engine"
    with pytest.raises(segql.EngineError) as info:
        connect(f"sqlite:///{tmp_path}/nope.db")
    assert info.value.code == "missing-database"


def test_spark_urls_name_the_master() -> None:
    from segql.engines.url import kind_of

    assert kind_of("spark:local[2]") == ("spark", "local[2]")
    assert kind_of("spark://spark-master:7077") == ("spark", "spark://spark-master:7077")
    assert kind_of("sc://spark-connect:15002") == ("spark", "sc://spark-connect:15002")


def test_clickhouse_urls_name_the_server_and_its_login() -> None:
    from segql.engines.clickhouse import _options

    assert _options("clickhouse://ana%40crm:p%2Fw@ch.example:9440/analytics?secure=1") == {
        "host": "ch.example",
        "port": 9440,
        "username": "ana@crm",
        "password": "p/w",
        "secure": True,
        "database": "analytics",
    }
    assert _options("clickhouse://ch.example") == {
        "host": "ch.example",
        "port": 8123,
        "username": "default",
        "password": "",
        "secure": False,
    }


def test_an_unreachable_clickhouse_server_is_an_engine_error() -> None:
    import socket

    require("clickhouse_connect")
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(segql.EngineError) as info:
        connect(f"clickhouse://127.0.0.1:{port}/db")
    assert info.value.code == "engine"
    assert "ClickHouse" in info.value.diagnostic.message


def test_a_missing_client_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from segql.engines.url import need

    monkeypatch.setitem(sys.modules, "no_such_client_xyz", None)
    with pytest.raises(segql.EngineError) as info:
        need("no_such_client_xyz", "spark")
    assert info.value.code == "missing-extra"
    assert "pip install 'segql[spark]'" in info.value.diagnostic.hints


def test_cli_count_on_every_url(duck_file: Path, tmp_path: Path) -> None:
    from test_cli import CATALOG, SCHEMA, run

    sqlite = _sqlite_file(tmp_path / "shop.sqlite")
    args = ["--schema", str(SCHEMA), "--catalog", str(CATALOG), "--as-of", "2026-06-01T12:00:00"]
    want = run("count", "@buyers", *args, "--db", str(duck_file))
    assert want.returncode == 0, want.stderr
    for url in (f"duckdb:///{duck_file}", f"sqlite:///{sqlite}"):
        got = run("count", "@buyers", *args, "--db", url)
        assert (got.returncode, got.stdout) == (0, want.stdout), (url, got.stderr)
    require("chdb")  # a chdb: database holds no tables until loaded: a clear error
    got = run("count", "@buyers", *args, "--db", "chdb:")
    assert got.returncode == 1 and "does not exist" in got.stderr and "Traceback" not in got.stderr


def test_cli_count_on_local_spark_reads_parquet_files_in_place(tmp_path: Path) -> None:
    """`--db spark:local[1]`: a fresh local session has no tables, so the schema's
    `file:` sources (Parquet) are read in place, as DuckDB reads them."""
    import duckdb
    from test_cli import CATALOG, SCHEMA, run

    require("pyspark")
    con = duckdb.connect()
    load_duckdb(DATA, con)
    text = SCHEMA.read_text(encoding="utf-8")
    for table in ("contacts", "orders", "email_events"):
        con.execute(f"COPY {table} TO '{tmp_path / table}.parquet' (FORMAT PARQUET)")
        text = text.replace(f"table: {table}\n", f"file: {table}.parquet\n")
    con.close()
    assert "table:" not in text
    schema = tmp_path / "schema.yaml"
    schema.write_text(text, encoding="utf-8")
    args = ["--schema", str(schema), "--catalog", str(CATALOG), "--as-of", "2026-06-01T12:00:00"]
    want = run("count", "@buyers", *args)  # DuckDB reading the same files
    got = run("count", "@buyers", *args, "--db", "spark:local[1]")
    assert want.returncode == 0, want.stderr
    assert (got.returncode, got.stdout) == (0, want.stdout), got.stderr
    members = run("members", "@buyers", *args, "--db", "spark:local[1]", "--fields", "email")
    assert members.returncode == 0, members.stderr


def _cli_args() -> list[str]:
    from test_cli import CATALOG, SCHEMA

    return ["--schema", str(SCHEMA), "--catalog", str(CATALOG), "--as-of", "2026-06-01T12:00:00"]


def _cli_members(db: str, out: Path) -> str:
    from test_cli import run

    got = run(
        "members", "@buyers", *_cli_args(), "--db", db, "--fields", "email,age", "-o", str(out)
    )
    assert got.returncode == 0, got.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    return "\n".join([lines[0], *sorted(lines[1:])])


def test_cli_count_and_members_on_postgres(duck_file: Path, tmp_path: Path) -> None:
    from test_cli import run

    pg = PgDatabase(DATA)
    try:
        url = f"{require_pg()}?options=-csearch_path%3D{pg.schema}"
        want = run("count", "@buyers", *_cli_args(), "--db", str(duck_file))
        got = run("count", "@buyers", *_cli_args(), "--db", url)
        assert (got.returncode, got.stdout) == (0, want.stdout), got.stderr
        ours = _cli_members(url, tmp_path / "pg.csv")
        assert ours == _cli_members(str(duck_file), tmp_path / "duck.csv")
    finally:
        pg.close()


def test_cli_count_and_members_on_chdb(duck_file: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from test_cli import run

    require("chdb")
    folder = tmp_path / "ch"
    here = Path(__file__).parent
    load = (
        f"import sys; sys.path.insert(0, {str(here)!r}); from engines import ChdbData; "
        f"from corpus_data import corpus_dataset; "
        f"ChdbData(corpus_dataset(), path={str(folder)!r}).session.close()"
    )
    subprocess.run([sys.executable, "-c", load], check=True, timeout=120)
    # ClickHouse refuses list fields: count a segment that reads none.
    want = run("count", "purchases >= 1", *_cli_args(), "--db", str(duck_file))
    got = run("count", "purchases >= 1", *_cli_args(), "--db", f"chdb:///{folder}")
    assert (got.returncode, got.stdout) == (0, want.stdout), got.stderr


def test_a_duckdb_file_opened_twice_in_one_process(duck_file: Path, tmp_path: Path) -> None:
    """DuckDB shares one instance per file: the second Database reads under the first's
    lock-down and refuses to export clearly, instead of failing on the locked settings."""
    import shutil

    copy = tmp_path / "twice.duckdb"
    shutil.copy(duck_file, copy)
    with connect(str(copy)) as first, connect(str(copy)) as second:
        assert first.count("age > 30", DATA.schema, as_of=AS_OF) == 3
        assert second.count("age > 30", DATA.schema, as_of=AS_OF) == 3
        with pytest.raises(segql.EngineError) as info:
            second.export("true", DATA.schema, tmp_path / "m.csv", format="csv", as_of=AS_OF)
        assert info.value.code == "file-not-allowed"
        assert first.export("true", DATA.schema, tmp_path / "m.csv", format="csv", as_of=AS_OF)


def test_a_slow_query_is_stopped_at_the_timeout(db: Any) -> None:
    """The engine's own query is cancelled (DuckDB and SQLite interrupt, PostgreSQL cancel,
    Spark cancelAllJobs); chdb cannot cancel, so its query ends first, then the timeout
    is reported all the same."""
    import time

    slow = {
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) FROM c",
        "postgres": "SELECT pg_sleep(30)",
        "spark": "SELECT count(*) FROM range(0, 100000000000)",
        "clickhouse": "SELECT count() FROM numbers(200000000) WHERE number % 7 = 3",
    }
    adapter = getattr(db, "adapter", None)
    if adapter is None:  # DuckDB
        work: Any = lambda: db.con.execute("SELECT count(*) FROM range(100000000000)").fetchall()  # noqa: E731
    else:
        work = lambda: adapter.rows(slow[adapter.dialect])  # noqa: E731
    start = time.monotonic()
    with pytest.raises(segql.EngineError) as info:
        db._call(work, timeout=0.1)
    assert info.value.code == "timeout"
    assert time.monotonic() - start < 20
    assert db.count("true", _schema(_is_clickhouse(db)), as_of=AS_OF) == len(DATA.contacts())


def test_the_repl_runs_on_any_engine(tmp_path: Path) -> None:
    import io

    from segql.tools.repl.session import Session

    path = _sqlite_file(tmp_path / "repl.sqlite")
    with connect(f"sqlite:///{path}") as db:
        out = io.StringIO()
        s = Session(DATA.schema, db, as_of=AS_OF, out=out)
        assert s.handle("purchases >= 1")
        assert s.handle(":sql")  # in the engine's dialect
        text = out.getvalue()
    assert "4 members (66.7% of 6 contacts)" in text
    assert "STRFTIME" in text  # SQLite's spelling of a timestamp


def test_csv_fields_are_written_as_duckdb_writes_them() -> None:
    from segql.engines.values import _csv_cell

    assert [_csv_cell(v) for v in ("", None, "a,b", 'q"x', " sp ", "\ntwo", True, [1, None])] == [
        '""',
        "",
        '"a,b"',
        '"q""x"',
        " sp ",
        '"\ntwo"',
        "true",
        '"[1,null]"',
    ]


def test_postgres_csv_exports_go_through_copy(tmp_path: Path, reference: Any) -> None:
    """PostgreSQL writes the CSV itself (COPY … TO STDOUT), in DuckDB's forms."""
    pg = PgDatabase(DATA)
    try:
        with connect(f"{require_pg()}?options=-csearch_path%3D{pg.schema}") as db:

            def no_rows(*args: Any, **kw: Any) -> Any:
                raise AssertionError("CSV rows fetched into Python instead of COPY")

            db.adapter.batches = no_rows
            fields = ["email", "signup_at", "email_consent", "tags"]
            n = db.export(
                "true", DATA.schema, tmp_path / "a.csv", format="csv", as_of=AS_OF, fields=fields
            )
            m = reference.export(
                "true", DATA.schema, tmp_path / "b.csv", format="csv", as_of=AS_OF, fields=fields
            )
            assert n == m == len(DATA.contacts())
            assert _rows(tmp_path / "a.csv", "csv") == _rows(tmp_path / "b.csv", "csv")
    finally:
        pg.close()
