"""The bundled example shop: deterministic data that matches `examples/shop/schema.yaml`
and makes every catalog segment non-trivial."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from segql.tools.demo import generate as demo

SHOP = Path(__file__).resolve().parents[1] / "examples" / "shop"
TABLES = ("contacts", "orders", "email_events", "page_views", "cart_events")
AS_OF = dt.datetime(2026, 6, 1, 12, 0)  # naive UTC, like the data
# segql type -> DuckDB type of the Parquet column (decimals: any precision and scale)
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "INTEGER|BIGINT",
    "decimal": r"DECIMAL\(\d+,\d+\)",
    "float": "DOUBLE|FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "list<string>": r"VARCHAR\[\]",
    "list<integer>": r"(INTEGER|BIGINT)\[\]",
}


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchall()[0][0]


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per generated table."""
    con = duckdb.connect()
    for t in TABLES:
        path = str(folder / f"{t}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
    return con


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data as shipped (default size, seed and as_of)."""
    folder = tmp_path_factory.mktemp("shop")
    assert demo.generate(folder) == folder
    return folder


@pytest.fixture(scope="module")
def con(shop: Path) -> duckdb.DuckDBPyConnection:
    return connect(shop)


def dump(folder: Path) -> dict[str, list[tuple[Any, ...]]]:
    c = connect(folder)
    return {t: rows(c, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


# --- generation -------------------------------------------------------------------------


def test_writes_exactly_the_five_parquet_files(shop: Path) -> None:
    assert sorted(p.name for p in shop.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = dump(demo.generate(tmp_path / "a", contacts=300))
    second = dump(demo.generate(tmp_path / "b", contacts=300))
    assert first == second
    assert all(first[t] for t in TABLES)
    assert dump(demo.generate(tmp_path / "c", contacts=300, seed=8)) != first


def test_aware_as_of_is_converted_to_utc(tmp_path: Path) -> None:
    berlin = dt.datetime(2026, 6, 1, 14, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 12:00 UTC
    naive = dump(demo.generate(tmp_path / "naive", contacts=100, as_of=AS_OF))
    assert dump(demo.generate(tmp_path / "aware", contacts=100, as_of=berlin)) == naive
    assert dump(demo.generate(tmp_path / "default", contacts=100)) == naive


def test_ensure_demo_data_generates_once_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real = demo.generate

    def small(target_dir: Path) -> Path:
        calls.append(target_dir)
        return real(target_dir, contacts=50)

    monkeypatch.setattr(demo, "generate", small)
    cache = tmp_path / "it's a cache"  # a quote in the path must not break the SQL
    folder = demo.ensure_demo_data(cache)
    assert folder == cache / "demo-v2"
    assert calls and calls[0] != folder  # written elsewhere, then renamed into place
    assert list(cache.iterdir()) == [folder]  # no temporary directory left behind
    assert demo.ensure_demo_data(cache) == folder
    assert len(calls) == 1
    monkeypatch.setenv("SEGQL_CACHE_DIR", str(cache))
    assert demo.ensure_demo_data() == folder
    assert len(calls) == 1


# --- the data matches the schema ----------------------------------------------------------


def _schema() -> dict[str, Any]:
    doc = yaml.safe_load((SHOP / "schema.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _sources() -> list[tuple[str, dict[str, Any]]]:
    doc = _schema()
    return [("entity", doc["entity"]), *doc["events"].items()]


def _columns(con: duckdb.DuckDBPyConnection, file: str) -> dict[str, str]:
    table = file.removesuffix(".parquet")
    assert table in TABLES
    return {r[0]: r[1] for r in rows(con, f"DESCRIBE {table}")}


@pytest.mark.parametrize("name", [n for n, _ in _sources()])
def test_schema_columns_and_types_match_the_parquet_files(
    con: duckdb.DuckDBPyConnection, name: str
) -> None:
    src = dict(_sources())[name]
    actual = _columns(con, src["file"])
    assert actual[src["key"]] == "BIGINT"
    if "time" in src:
        assert actual[src["time"]] == "TIMESTAMP"  # naive UTC
    declared: dict[str, str] = {}
    for field, spec in src["fields"].items():
        spec = spec if isinstance(spec, dict) else {"type": spec}
        column = spec.get("column", field)
        declared[column] = spec["type"]
        assert column in actual, f"{name}.{field}: no column {column!r} in {src['file']}"
        assert re.fullmatch(DUCKDB_TYPES[spec["type"]], actual[column]), (name, field)
    if name == "entity":  # every profile column is described
        assert set(actual) == {src["key"], *declared}


@pytest.mark.parametrize(
    ("name", "field"), [(n, f) for n, s in _sources() for f, spec in s["fields"].items()
                        if isinstance(spec, dict) and "values" in spec]
)  # fmt: skip
def test_data_stays_within_declared_values(
    con: duckdb.DuckDBPyConnection, name: str, field: str
) -> None:
    src = dict(_sources())[name]
    spec = src["fields"][field]
    table = src["file"].removesuffix(".parquet")
    column = spec.get("column", field)
    seen = {r[0] for r in rows(con, f'SELECT DISTINCT "{column}" FROM {table}')}
    assert seen - {None} <= set(spec["values"])
    assert len(seen - {None}) >= 2


@pytest.mark.parametrize("name", [n for n, s in _sources() if "where" in s])
def test_stream_filters_select_rows(con: duckdb.DuckDBPyConnection, name: str) -> None:
    src = dict(_sources())[name]
    m = re.fullmatch(r"type = '(\w+)'", src["where"])
    assert m, src["where"]
    table = src["file"].removesuffix(".parquet")
    assert scalar(con, f"SELECT count(*) FROM {table} WHERE type = '{m[1]}'") > 0


# --- the data is rich enough --------------------------------------------------------------


def test_profiles_have_realistic_gaps(con: duckdb.DuckDBPyConnection) -> None:
    total = scalar(con, "SELECT count(*) FROM contacts")
    assert total == 5000
    assert scalar(con, "SELECT count(DISTINCT id) FROM contacts") == total
    for column in ("age", "country", "birthday", "email_consent"):
        nulls = scalar(con, f"SELECT count(*) FROM contacts WHERE {column} IS NULL")
        assert 0 < nulls < total / 5, column
    assert scalar(con, "SELECT count(*) FROM contacts WHERE strftime(birthday, '%m-%d') = '02-29'")
    assert scalar(con, "SELECT count(*) FROM contacts WHERE list_contains(tags, 'vip')")
    span = rows(con, "SELECT min(signup_at), max(signup_at) FROM contacts")[0]
    assert span[0] < AS_OF - dt.timedelta(days=2 * 365) and span[1] <= AS_OF


def test_some_events_lie_after_as_of(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, f"SELECT count(*) FROM orders WHERE ordered_at > '{AS_OF}'") > 0
    assert scalar(con, f"SELECT count(*) FROM email_events WHERE \"at\" > '{AS_OF}'") > 0


def test_long_tail_of_orders_and_contacts_without_events(con: duckdb.DuckDBPyConnection) -> None:
    counts = dict(
        rows(
            con,
            "SELECT coalesce(n, 0) AS n, count(*) FROM contacts LEFT JOIN "
            "(SELECT contact_id, count(*) AS n FROM orders GROUP BY ALL) o ON o.contact_id = id "
            "GROUP BY ALL",
        )
    )
    total = sum(counts.values())
    assert counts[0] > total / 3  # many never order
    assert counts[0] + counts.get(1, 0) > total / 2
    assert max(counts) >= 20  # a few order very often
    none = scalar(
        con,
        "SELECT count(*) FROM contacts WHERE id NOT IN ("
        + " UNION ".join(f"SELECT contact_id FROM {t}" for t in TABLES[1:])
        + ")",
    )
    assert 0 < none < total


# --- segments in plain SQL: non-trivial, and segql agrees -------------------------------

_VISIBLE = f"""
WITH o AS (SELECT * FROM orders WHERE ordered_at <= TIMESTAMP '{AS_OF}'),
     e AS (SELECT * FROM email_events WHERE "at" <= TIMESTAMP '{AS_OF}'),
     c AS (SELECT * FROM cart_events WHERE "at" <= TIMESTAMP '{AS_OF}')
"""
PLAIN_SQL = {
    "vip": """
        SELECT count(*) FROM (
            SELECT contact_id FROM o GROUP BY ALL HAVING count(*) >= 5 AND sum(amount) > 500)
    """,
    "new_customers": """
        SELECT count(*) FROM (
            SELECT contact_id FROM o GROUP BY ALL
            HAVING min(ordered_at) >= TIMESTAMP '{as_of}' - INTERVAL 30 DAY)
    """,
    "re_engagement": """
        SELECT count(*) FROM contacts p
        WHERE email_consent
          AND EXISTS (SELECT 1 FROM e WHERE e.contact_id = p.id AND type = 'send'
                      AND "at" >= TIMESTAMP '{as_of}' - INTERVAL 90 DAY)
          AND NOT EXISTS (SELECT 1 FROM e WHERE e.contact_id = p.id AND type = 'open'
                          AND "at" >= TIMESTAMP '{as_of}' - INTERVAL 60 DAY)
    """,
    "cart_abandoners": """
        SELECT count(*) FROM (
            SELECT DISTINCT a.contact_id FROM c a
            WHERE a.type = 'add' AND a."at" >= TIMESTAMP '{as_of}' - INTERVAL 1 DAY
              AND NOT EXISTS (SELECT 1 FROM c k WHERE k.type = 'checkout'
                AND k.contact_id = a.contact_id AND k.product = a.product AND k."at" > a."at")
        ) s JOIN (SELECT contact_id, max("at") AS last_add FROM c WHERE type = 'add'
                  GROUP BY ALL) a USING (contact_id)
          LEFT JOIN (SELECT contact_id, max(ordered_at) AS last_order FROM o GROUP BY ALL) l
          USING (contact_id)
        WHERE last_order IS NULL OR last_order < last_add
    """,
    "above_own_average": """
        SELECT count(DISTINCT o.contact_id) FROM o
        JOIN (SELECT contact_id, avg(amount) AS a FROM o GROUP BY ALL) v USING (contact_id)
        WHERE o.ordered_at >= TIMESTAMP '{as_of}' - INTERVAL 30 DAY AND o.amount > v.a
    """,
}


@pytest.mark.parametrize("name", sorted(PLAIN_SQL))
def test_segment_in_plain_sql_is_non_trivial(con: duckdb.DuckDBPyConnection, name: str) -> None:
    total = scalar(con, "SELECT count(*) FROM contacts")
    n = scalar(con, _VISIBLE + PLAIN_SQL[name].format(as_of=AS_OF))
    assert 0 < n < total / 2, (name, n)


@pytest.fixture(scope="module")
def shop_with_config(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop-config")
    for p in shop.iterdir():
        (folder / p.name).symlink_to(p)
    for name in ("schema.yaml", "segments.yaml"):
        shutil.copy(SHOP / name, folder / name)
    return folder


def test_every_catalog_segment_is_non_trivial_and_matches_plain_sql(
    con: duckdb.DuckDBPyConnection, shop: Path, shop_with_config: Path
) -> None:
    from segql.config.loader import load_schema
    from segql.engine import Database

    schema = load_schema(
        shop_with_config / "schema.yaml", catalogs=[shop_with_config / "segments.yaml"]
    )
    as_of = AS_OF.replace(tzinfo=dt.UTC)
    assert len(schema.segments) >= 12
    # The data are links to files elsewhere: DuckDB follows them only into allowed folders.
    with Database(file_roots=[shop_with_config, shop]) as db:
        total = db.count("true", schema, as_of=as_of)
        counts = {name: db.count(f"in segment {name}", schema, as_of=as_of)
                  for name in schema.segments}  # fmt: skip
    trivial = {name: n for name, n in counts.items() if not 0 < n < total}
    assert not trivial
    for name, sql in PLAIN_SQL.items():
        assert counts[name] == scalar(con, _VISIBLE + sql.format(as_of=AS_OF)), name


def test_the_demo_profile_equals_pandas(
    con: duckdb.DuckDBPyConnection, shop: Path, shop_with_config: Path
) -> None:
    """The value classes' profile on the demo data against pandas over plain SQL values."""
    from profile_reference import assert_profile

    from segql.config.loader import load_schema
    from segql.engine import Database

    schema = load_schema(
        shop_with_config / "schema.yaml", catalogs=[shop_with_config / "segments.yaml"]
    )
    as_of = AS_OF.replace(tzinfo=dt.UTC)
    with Database(file_roots=[shop_with_config, shop]) as db:
        got = db.profile(schema, ["@value_class"], ["total_spent", "purchases"], as_of=as_of)
        classes = db.membership(schema, ["value_class"], as_of=as_of).to_pandas()
    plain = con.sql(
        _VISIBLE
        + """SELECT p.id, coalesce(sum(o.amount), 0) AS total_spent, count(o.contact_id)
             AS purchases FROM contacts p LEFT JOIN o ON o.contact_id = p.id GROUP BY p.id"""
    ).df()
    frame = classes.merge(plain, on="id")
    values = schema.segmentations["value_class"].values
    groups = {c: frame.value_class == c for c in values}
    assert_profile(got, frame, groups, ["total_spent", "purchases"],
                   {"total_spent": "value_class", "purchases": "value_class"})  # fmt: skip
    assert got["separation"]["total_spent"] > 0.5  # the classes are about spend
