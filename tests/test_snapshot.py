"""`snapshot` and `changes` (CONTRACT §6.4) on real engines (DuckDB, PostgreSQL, SQLite):
the intervals written equal the membership `member_ids` computes at every snapshotted
instant, `changes` equals the set differences of consecutive snapshots, a repeated as_of
changes nothing, an interrupted run (a killed process) leaves the table as it was, and
bad input is a clear error."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engines import Dataset, PgDatabase, Table, _q, _sqlite_value, load_duckdb, require_pg

import segql
from segql.core.types import Type as T
from segql.engines import connect

SCHEMA: dict[str, Any] = {
    "timezone": "UTC",
    "entity": {"table": "people", "key": "id", "fields": {"name": "string"}},
    "events": {
        "orders": {
            "table": "orders",
            "key": "contact_id",
            "time": "at",
            "fields": {"amount": "decimal"},
        }
    },
    "segments": {
        "active": {"where": "has orders within 30d"},
        "big_spender": {"where": "has orders where amount > 80 within 45d"},
        "loyal": {"where": "count(orders) >= 4"},
        "nobody": {"where": "count(orders) > 1000"},
    },
    "segmentations": {
        "activity": {
            "classes": {"hot": "count(orders) >= 5", "warm": "has orders within 60d"},
            "otherwise": "cold",
        }
    },
}
TARGETS = [
    "@active", "@big_spender", "@loyal", "@nobody", "@activity",
    "has orders where amount < 20 as small_buyer",
]  # fmt: skip
# each snapshot's segments and the expression that computes its members independently
EXPRS = {
    "active": "in segment active",
    "big_spender": "in segment big_spender",
    "loyal": "in segment loyal",
    "nobody": "in segment nobody",
    "activity=hot": "activity = 'hot'",
    "activity=warm": "activity = 'warm'",
    "activity=cold": "activity = 'cold'",
    "small_buyer": "has orders where amount < 20",
}
INSTANTS = [dt.datetime(2026, m, 1, tzinfo=dt.UTC) for m in (1, 2, 3, 4, 5)]


def _data() -> Dataset:
    rng = random.Random(14)
    people = Table(columns=[("id", T.INTEGER), ("name", T.STRING)])
    orders = Table(columns=[("contact_id", T.INTEGER), ("at", T.TIMESTAMP), ("amount", T.DECIMAL)])
    start = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    for i in range(1, 121):
        people.rows.append((i, f"p{i}"))
        for _ in range(rng.randrange(0, 8)):
            at = start + dt.timedelta(seconds=rng.randrange(240 * 86400))
            orders.rows.append((i, at, Decimal(rng.randrange(500, 15000)) / 100))
    return Dataset(schema=segql.load_schema(SCHEMA), tables={"people": people, "orders": orders})


DATA = _data()


@dataclass
class Engine:
    kind: str
    url: str
    db: Any  # opened to write
    raw: Callable[[str], Any]  # a statement on the same database, outside segql

    def table(self, name: str = "segql_membership") -> list[tuple[Any, ...]]:
        """Every row of a table, as comparable Python values, sorted."""
        from segql.engines.values import normalize

        rows = self.db._rows(f"SELECT * FROM {name}", None)

        def plain(v: Any) -> Any:
            if isinstance(v, str) and v[:4].isdigit() and v[4:5] == "-":
                return normalize(v, T.TIMESTAMP)
            if isinstance(v, dt.datetime):
                return normalize(v, T.TIMESTAMP)
            return v

        return sorted((tuple(plain(v) for v in r) for r in rows), key=repr)


def _sqlite_file(path: Path) -> Path:
    con = sqlite3.connect(path)
    for name, table in DATA.tables.items():
        con.execute(f"CREATE TABLE {_q(name)} ({', '.join(_q(c) for c, _ in table.columns)})")
        marks = ", ".join("?" for _ in table.columns)
        con.executemany(
            f"INSERT INTO {_q(name)} VALUES ({marks})",
            [
                tuple(_sqlite_value(v, t) for v, (_, t) in zip(r, table.columns, strict=True))
                for r in table.rows
            ],
        )
    con.commit()
    con.close()
    return path


def _duck_file(path: Path) -> Path:
    import duckdb

    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.close()
    return path


@pytest.fixture(params=["duckdb", "postgres", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    kind = request.param
    if kind == "duckdb":
        path = _duck_file(tmp_path / "shop.duckdb")
        with connect(str(path), write=True) as db:
            yield Engine(kind, str(path), db, lambda s: db.con.execute(s).fetchall())
    elif kind == "sqlite":
        url = f"sqlite:///{_sqlite_file(tmp_path / 'shop.sqlite')}"
        with connect(url, write=True) as db:
            yield Engine(kind, url, db, lambda s: db.adapter.con.execute(s).fetchall())
    else:
        require_pg()
        pg = PgDatabase(DATA)
        url = f"{require_pg()}?options=-csearch_path%3D{pg.schema}"
        try:
            with connect(url, write=True) as db:
                yield Engine(kind, url, db, lambda s: pg.con.execute(s))
        finally:
            pg.close()


def _members_at(rows: list[tuple[Any, ...]], segment: str, at: dt.datetime) -> set[Any]:
    """Who the intervals say is a member at ``at``."""
    return {k for k, s, frm, to in rows if s == segment and frm <= at and (to is None or to > at)}


def test_snapshots_equal_membership_and_changes_equal_set_differences(engine: Engine) -> None:
    db, schema = engine.db, DATA.schema
    truth: dict[tuple[str, dt.datetime], set[Any]] = {}
    for at in INSTANTS:
        got = db.snapshot(schema, TARGETS, as_of=at)
        assert got["as_of"] == at.isoformat().replace("+00:00", "Z")
        assert [s["segment"] for s in got["segments"]] == list(EXPRS)
        rows = engine.table()
        for s in got["segments"]:
            want = set(db.member_ids(EXPRS[s["segment"]], schema, as_of=at))
            truth[(s["segment"], at)] = want
            assert _members_at(rows, s["segment"], at) == want, (s["segment"], at)
            assert s["members"] == len(want) == db.count(EXPRS[s["segment"]], schema, as_of=at)
            assert s["written"] is True
    rows = engine.table()
    assert all(k is not None for k, *_ in rows)
    # every snapshotted instant is still reconstructed by the final table
    for (segment, at), want in truth.items():
        assert _members_at(rows, segment, at) == want, (segment, at)
    # no two intervals of one key and segment overlap; only the last may be open
    by: dict[tuple[Any, str], list[tuple[Any, Any]]] = {}
    for k, s, frm, to in rows:
        by.setdefault((k, s), []).append((frm, to))
    for spans in by.values():
        spans.sort()
        assert all(a[1] is not None and a[1] <= b[0] for a, b in itertools.pairwise(spans))
    # changes between consecutive snapshots are their set differences
    moved = 0
    for before, after in itertools.pairwise(INSTANTS):
        feed = db.changes(schema, ["@active", "@activity", "@small_buyer"], since=before,
                          until=after)  # fmt: skip
        for segment in ("active", "activity=hot", "activity=warm", "small_buyer"):
            old, new = truth[(segment, before)], truth[(segment, after)]
            stamp = after.isoformat().replace("+00:00", "Z")
            mine = [r for r in feed if r["segment"] == segment]
            assert all(r["at"] == stamp for r in mine)
            assert {r["key"] for r in mine if r["change"] == "entered"} == new - old
            assert {r["key"] for r in mine if r["change"] == "exited"} == old - new
            assert len(mine) == len(new - old) + len(old - new)
            moved += len(mine)
        keys = [(r["at"], r["key"], r["segment"], r["change"]) for r in feed]
        assert keys == sorted(keys)
    assert moved > 20  # the data churn: the test compares something
    # the first snapshot's members all entered at it; no bound: every change
    everything = db.changes(schema, ["@active"], since=INSTANTS[0] - dt.timedelta(days=1))
    first = [r for r in everything if r["at"].startswith("2026-01-01")]
    assert {r["key"] for r in first} == truth[("active", INSTANTS[0])]
    assert all(r["change"] == "entered" for r in first)
    assert db.changes(schema, ["@nobody"], since=INSTANTS[0] - dt.timedelta(days=1)) == []


def test_a_repeated_as_of_changes_nothing_and_an_earlier_one_is_refused(engine: Engine) -> None:
    db, schema = engine.db, DATA.schema
    db.snapshot(schema, TARGETS, as_of=INSTANTS[1])
    db.snapshot(schema, TARGETS, as_of=INSTANTS[3])
    before = (engine.table(), engine.table("segql_membership_runs"))
    for at in (INSTANTS[3], INSTANTS[1]):  # the latest, and an earlier one already taken
        again = db.snapshot(schema, TARGETS, as_of=at)
        assert not any(s["written"] for s in again["segments"])
        assert (engine.table(), engine.table("segql_membership_runs")) == before
    with pytest.raises(segql.EngineError) as info:
        db.snapshot(schema, ["@active", "@loyal"], as_of=INSTANTS[2])
    assert {d.code for d in info.value.diagnostics} == {"snapshot-order"}
    assert "2026-04-01T00:00:00Z" in info.value.diagnostics[0].message
    assert (engine.table(), engine.table("segql_membership_runs")) == before
    # a segment never snapshotted may start at any as_of, also with the others taken
    got = db.snapshot(schema, ["@active", "count(orders) >= 1 as buyer"], as_of=INSTANTS[3])
    assert [s["written"] for s in got["segments"]] == [False, True]


def test_bad_input_is_a_clear_error(engine: Engine) -> None:
    db, schema = engine.db, DATA.schema

    def code(call: Callable[[], Any]) -> str:
        with pytest.raises(segql.SegqlError) as info:
            call()
        return str(info.value.code)

    at = INSTANTS[0]
    assert code(lambda: db.snapshot(schema, ["@nope"], as_of=at)) == "unknown-segment"
    assert code(lambda: db.snapshot(schema, ["count(orders) > 1"], as_of=at)) == "snapshot-target"
    assert code(lambda: db.snapshot(schema, ["@active", "@active"], as_of=at)) == "snapshot-target"
    assert code(lambda: db.snapshot(schema, ["@active"], table="a..b", as_of=at)) == (
        "snapshot-table"
    )
    assert code(lambda: db.changes(schema, ["@active"], since=at)) == "no-snapshot"
    engine.raw("CREATE TABLE wrong (key INTEGER, segment TEXT)")
    assert code(lambda: db.snapshot(schema, ["@active"], table="wrong", as_of=at)) == (
        "snapshot-table"
    )
    db.snapshot(schema, ["@active"], as_of=at)
    assert code(lambda: db.changes(schema, ["@loyal"], since=at)) == "no-snapshot"
    assert engine.table("segql_membership_runs") == [("active", at)]


def test_qualified_table_names(engine: Engine) -> None:
    # (a name to quote; PostgreSQL's schemas outlive a test; SQLite's one schema is `main`)
    crm = "main" if engine.kind == "sqlite" else f"my crm {os.getpid()}"
    if crm != "main":
        engine.raw(f'CREATE SCHEMA "{crm}"')
    try:
        db, schema = engine.db, DATA.schema
        got = db.snapshot(schema, ["@active"], table=f"{crm}.members", as_of=INSTANTS[0])
        want = set(db.member_ids("in segment active", schema, as_of=INSTANTS[0]))
        assert got["segments"][0]["members"] == len(want) > 0
        assert _members_at(engine.table(f'"{crm}"."members"'), "active", INSTANTS[0]) == want
        since = INSTANTS[0] - dt.timedelta(days=1)
        feed = db.changes(schema, ["active"], since=since, table=f"{crm}.members")
        assert {r["key"] for r in feed} == want
    finally:
        if crm != "main":
            engine.raw(f'DROP SCHEMA "{crm}" CASCADE')


def test_a_read_only_database_and_other_engines_refuse(tmp_path: Path) -> None:
    path = _duck_file(tmp_path / "ro.duckdb")
    with connect(str(path)) as db, pytest.raises(segql.EngineError) as info:
        db.snapshot(DATA.schema, ["@active"], as_of=INSTANTS[0])
    assert info.value.code == "cannot-write" and "write=True" in info.value.diagnostic.hints[0]
    url = f"sqlite:///{_sqlite_file(tmp_path / 'ro.sqlite')}"
    with connect(url) as db, pytest.raises(segql.EngineError) as info:
        db.snapshot(DATA.schema, ["@active"], as_of=INSTANTS[0])
    assert info.value.code == "cannot-write"
    from engines import ChdbData, require

    require("chdb")
    from segql.engines.base import EngineDatabase
    from segql.engines.clickhouse import Chdb

    data = ChdbData(DATA)
    try:
        db = EngineDatabase(Chdb(session=data.session))
        with pytest.raises(segql.EngineError) as info:
            db.snapshot(DATA.schema, ["@active"], as_of=INSTANTS[0])
        assert info.value.code == "cannot-write" and "ClickHouse" in info.value.diagnostic.message
    finally:
        data.close()


# --- the command line ------------------------------------------------------------------


def _files(tmp_path: Path) -> list[str]:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return ["--schema", str(schema), "--no-project"]


def test_cli_snapshot_and_changes(tmp_path: Path) -> None:
    from test_cli import run

    db = str(_duck_file(tmp_path / "shop.duckdb"))
    args = [*_files(tmp_path), "--db", db]
    first = run("snapshot", "@active", "@activity", *args, "--as-of", "2026-03-01")
    assert first.returncode == 0, first.stderr
    assert "active" in first.stdout and "activity=warm" in first.stdout
    got = run("snapshot", "@active", "@activity", *args, "--as-of", "2026-04-01", "--format",
              "json")  # fmt: skip
    assert got.returncode == 0, got.stderr
    result = json.loads(got.stdout)
    assert result["as_of"] == "2026-04-01T00:00:00Z"
    again = run("snapshot", "@active", "@activity", *args, "--as-of", "2026-04-01")
    assert again.returncode == 0 and "taken before: unchanged" in again.stdout
    feed = run("changes", "@active", *args, "--since", "2026-03-01", "--format", "csv")
    assert feed.returncode == 0, feed.stderr
    lines = feed.stdout.splitlines()
    assert lines[0] == "key,segment,change,at"
    active = result["segments"][0]
    assert len(lines) - 1 == active["entered"] + active["exited"] > 0
    assert all(ln.endswith(",2026-04-01T00:00:00Z") for ln in lines[1:])
    table = run("changes", "@active", *args, "--since", "2026-03-01")
    assert table.returncode == 0 and table.stdout.startswith("at ")
    none = run("changes", "@active", *args, "--since", "2026-04-01")
    assert (none.returncode, none.stdout) == (0, "no changes\n")
    js = run("changes", "@activity", *args, "--since", "2026-01-01", "--format", "json")
    rows = json.loads(js.stdout)
    assert {r["segment"] for r in rows} == {"activity=hot", "activity=warm", "activity=cold"}


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["snapshot", "@nope"], "unknown-segment", "unknown segment"),
        (["snapshot", "@active", "--as-of", "2026-01-01"], "snapshot-order", "last snapshotted"),
        (["snapshot", "@active", "--table", "people"], "snapshot-table", "not a segql membership"),
        (["changes", "@loyal", "--since", "2026-01-01"], "no-snapshot", "no snapshot"),
        (["changes", "@active", "--since", "2026-01-01", "--table", "t2"], "no-snapshot",
         "no membership"),
    ],
)  # fmt: skip
def test_cli_errors_are_clear(tmp_path: Path, argv: list[str], code: str, words: str) -> None:
    from test_cli import run

    db = str(_duck_file(tmp_path / "shop.duckdb"))
    args = [*_files(tmp_path), "--db", db]
    assert run("snapshot", "@active", *args, "--as-of", "2026-03-01").returncode == 0
    got = run(*argv, *args)
    assert got.returncode == 1, got.stderr
    assert f"error[{code}]" in got.stderr and words in got.stderr
    assert "Traceback" not in got.stderr


def test_cli_snapshot_needs_a_database(tmp_path: Path) -> None:
    from test_cli import run

    got = run("snapshot", "@active", *_files(tmp_path))
    assert got.returncode == 2 and "--db" in got.stderr
    missing = run("snapshot", "@active", *_files(tmp_path), "--db", str(tmp_path / "typo.duckdb"))
    assert missing.returncode == 1 and "error[missing-database]" in missing.stderr
    assert not (tmp_path / "typo.duckdb").exists()


# --- a killed process ------------------------------------------------------------------


def _killed(argv: list[str]) -> None:
    """Run the CLI paused inside its transaction, after every write; kill it there."""
    from test_cli import SEGQL

    env = {**os.environ, "NO_COLOR": "1", "SEGQL_TEST_PAUSE_BEFORE_COMMIT": "120"}
    with subprocess.Popen(
        [SEGQL, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        assert "paused before commit" in line, (line, proc.stderr.read())
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_killed_snapshot_leaves_the_table_as_it_was(kind: str, tmp_path: Path) -> None:
    from test_cli import run

    pg = None
    if kind == "duckdb":
        url = str(_duck_file(tmp_path / "shop.duckdb"))
    else:
        require_pg()
        pg = PgDatabase(DATA)
        url = f"{require_pg()}?options=-csearch_path%3D{pg.schema}"
    args = [*_files(tmp_path), "--db", url]
    targets = ["@active", "@activity"]

    def contents() -> tuple[list[Any], list[Any]] | None:
        with connect(url) as db:
            if db._relation_columns("segql_membership") is None:
                return None
            e = Engine(kind, url, db, lambda s: None)
            return e.table(), e.table("segql_membership_runs")

    try:
        _killed(["snapshot", *targets, *args, "--as-of", "2026-02-01"])  # the very first
        assert contents() is None  # not even the table was created
        assert run("snapshot", *targets, *args, "--as-of", "2026-02-01").returncode == 0
        before = contents()
        assert before is not None and before[0]
        _killed(["snapshot", *targets, *args, "--as-of", "2026-04-01"])
        assert contents() == before
        got = run("snapshot", *targets, *args, "--as-of", "2026-04-01", "--format", "json")
        assert got.returncode == 0, got.stderr
        after = contents()
        assert after is not None and after != before
        with connect(url) as db:
            for s in json.loads(got.stdout)["segments"]:
                want = set(db.member_ids(EXPRS[s["segment"]], DATA.schema, as_of=INSTANTS[3]))
                assert _members_at(after[0], s["segment"], INSTANTS[3]) == want
                assert s["members"] == len(want)
    finally:
        if pg is not None:
            pg.close()
