"""Everyday use holds up (issue 9): the project file, exports, interrupts, the engine's
lock-down, and the errors around a command (not in an expression)."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from corpus_data import AS_OF, corpus_dataset
from engines import load_duckdb
from test_cli import CATALOG, SCHEMA, SEGQL, base, run

import segql
from segql.engine import Database

DATA = corpus_dataset()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("everyday") / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.close()
    return path


# --- the project file ------------------------------------------------------------------


def _project(folder: Path, db: Path, extra: str = "") -> None:
    (folder / "segql.toml").write_text(
        f'schema = "{SCHEMA}"\ncatalogs = ["{CATALOG}"]\ndb = "{db}"\n'
        f'as_of = "2026-06-01T12:00:00Z"\n{extra}',
        encoding="utf-8",
    )


def test_project_file_is_found_from_the_working_directory_upwards(tmp_path: Path, db: Path) -> None:
    _project(tmp_path, db)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    r = run("count", "@buyers", cwd=deep)
    assert (r.returncode, r.stdout.strip()) == (0, "4"), r.stderr
    # Options override it: another as_of, long before any order.
    r = run("count", "@buyers", "--as-of", "2020-01-01", cwd=deep)
    assert (r.returncode, r.stdout.strip()) == (0, "0"), r.stderr
    # --no-project ignores it.
    r = run("count", "@buyers", "--no-project", cwd=deep)
    assert r.returncode == 2 and "no schema" in r.stderr


def test_project_in_pyproject_and_relative_paths(tmp_path: Path, db: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "s.yaml").write_text(SCHEMA.read_text(encoding="utf-8"))
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.segql]\nschema = "conf/s.yaml"\n'
        f'db = "{db}"\nas_of = 2026-06-01T12:00:00Z\ndialect = "postgres"\n',
        encoding="utf-8",
    )
    r = run("count", "has orders", cwd=tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, "4"), r.stderr
    r = run("sql", "age > 3", cwd=tmp_path)
    assert r.returncode == 0 and '"contacts"' in r.stdout  # postgres quoting
    r = run("sql", "age > 3", "-p", str(tmp_path), cwd=Path("/"))
    assert r.returncode == 0, r.stderr


def test_project_file_mistakes_are_positioned(tmp_path: Path, db: Path) -> None:
    _project(tmp_path, db, 'catalog = "x.yaml"\n')
    r = run("count", "@buyers", cwd=tmp_path)
    assert r.returncode == 1
    assert "segql.toml:5:1: error[project-unknown-key]" in r.stderr
    assert "did you mean `catalogs`?" in r.stderr
    (tmp_path / "segql.toml").write_text('as_of = "yesterday"\n', encoding="utf-8")
    r = run("count", "@buyers", cwd=tmp_path)
    assert r.returncode == 1 and "segql.toml:1:1" in r.stderr and "not a date" in r.stderr
    assert "Traceback" not in r.stderr


def test_init_writes_a_starter_that_checks_and_never_overwrites(tmp_path: Path) -> None:
    r = run("init", str(tmp_path / "new"))
    assert r.returncode == 0, r.stderr
    r = run("check", cwd=tmp_path / "new")
    assert r.returncode == 0, r.stderr
    assert "ok: 5 fields, 1 stream, 3 traits, 3 segments" in r.stdout
    text = (tmp_path / "new" / "schema.yaml").read_text()
    assert text.count("#") > 5  # commented
    before = {p.name: p.read_text() for p in (tmp_path / "new").iterdir()}
    r = run("init", str(tmp_path / "new"))
    assert r.returncode == 1 and "nothing was written" in r.stderr
    assert {p.name: p.read_text() for p in (tmp_path / "new").iterdir()} == before


# --- one Database, many queries; timeouts and interrupts -------------------------------


def test_count_then_members_on_one_database(db: Path) -> None:
    with Database(db) as d:
        assert d.count("has orders", DATA.schema, as_of=AS_OF) == 4
        assert d.members("has orders", DATA.schema, as_of=AS_OF).num_rows == 4
        assert len(d.member_ids("has orders", DATA.schema, as_of=AS_OF)) == 4
        assert d.count("has orders", DATA.schema, as_of=AS_OF) == 4


@pytest.fixture(scope="module")
def slow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("slow") / "slow.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.execute("ALTER TABLE contacts RENAME TO contacts_src")
    con.execute(
        "CREATE VIEW contacts AS SELECT a.range * 1000000 + b.range AS id, c.* EXCLUDE (id) "
        "FROM range(100000) a, range(1000000) b, (SELECT * FROM contacts_src LIMIT 1) c"
    )
    con.close()
    return path


def test_timeout_stops_a_query(slow_db: Path) -> None:
    start = time.monotonic()
    with Database(slow_db, timeout=0.5) as d, pytest.raises(segql.EngineError) as info:
        d.count("age > 1 or age is null", DATA.schema, as_of=AS_OF)
    assert info.value.code == "timeout"
    assert "0.5 s" in info.value.diagnostic.message
    assert time.monotonic() - start < 30


def test_interrupt_from_another_thread(slow_db: Path) -> None:
    with Database(slow_db) as d:
        threading.Timer(0.5, d.interrupt).start()
        with pytest.raises(segql.Interrupted) as info:
            d.count("age > 1 or age is null", DATA.schema, as_of=AS_OF)
        assert info.value.code == "interrupted"
        assert isinstance(info.value, segql.EngineError | KeyboardInterrupt)
        # The connection is still usable afterwards.
        assert d.con.execute("SELECT 42").fetchall() == [(42,)]


def _ctrl_c(args: list[str], *, after: float = 1.5) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [SEGQL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_during_count_exits_130_without_a_traceback(slow_db: Path) -> None:
    r = _ctrl_c(["count", "age > 1 or age is null", *base(slow_db)])
    assert r.returncode == 130, r.stderr
    assert "interrupted" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_during_an_export_leaves_no_file(slow_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    r = _ctrl_c(["members", "age > 1 or age is null", *base(slow_db), "-o", str(out)])
    assert r.returncode == 130, r.stderr
    assert list(tmp_path.iterdir()) == []


# --- exports -----------------------------------------------------------------------------


def test_csv_and_jsonl_hold_standard_values(db: Path, tmp_path: Path) -> None:
    fields = "tags,email_consent,credit,signup_at,birthday,total_spent,score"
    r = run("members", "has orders", *base(db), "--fields", fields, "-o", str(tmp_path / "m.csv"))
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO((tmp_path / "m.csv").read_text()))}
    ann = rows["1"]
    assert json.loads(ann["tags"]) == ["vip", "beta"]
    assert ann["email_consent"] == "true"
    assert ann["signup_at"] == "2024-01-15T10:00:00Z"
    assert ann["birthday"] == "1992-02-29"
    assert rows["2"]["tags"] == "[]" and rows["2"]["credit"] == ""  # null is an empty cell
    r = run("members", "has orders", *base(db), "--fields", fields, "-o", str(tmp_path / "m.jsonl"))
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    got = {row["id"]: row for row in map(json.loads, lines)}
    assert got[1]["tags"] == ["vip", "beta"] and got[1]["email_consent"] is True
    assert got[1]["credit"] == 10.0 and isinstance(got[1]["credit"], float)  # a number
    assert got[1]["signup_at"] == "2024-01-15T10:00:00Z"
    assert isinstance(got[1]["total_spent"], int | float)


def test_members_export_traits(db: Path) -> None:
    r = run("members", "has orders", *base(db), "--fields", "email,total_spent,purchases")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0].keys() == {"id", "email", "total_spent", "purchases"}
    spent = {row["id"]: float(row["total_spent"]) for row in rows}
    with Database(db) as d:
        table = d.members("has orders", DATA.schema, as_of=AS_OF, fields=["total_spent"])
    assert spent == {str(k): float(v) for k, v in zip(*table.to_pydict().values(), strict=True)}


def test_output_dash_is_stdout_and_unknown_suffixes_are_refused(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = run("members", "@buyers", *base(db), "-o", "-", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("id\n")
    assert not (tmp_path / "-").exists()
    r = run("members", "@buyers", *base(db), "-o", "out.json", cwd=tmp_path)
    assert r.returncode == 2 and ".jsonl" in r.stderr
    assert not (tmp_path / "out.json").exists()


def test_bad_output_paths_are_refused_before_the_query_runs(slow_db: Path, tmp_path: Path) -> None:
    # On the slow database a query would take forever: a quick refusal proves the check
    # comes first.
    for target, words in [
        (tmp_path / "missing" / "m.csv", "does not exist"),
        (tmp_path, "is a folder"),
    ]:
        start = time.monotonic()
        r = run("members", "age > 1", *base(slow_db), "-o", str(target))
        assert r.returncode == 2 and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        assert time.monotonic() - start < 30


def test_a_failed_export_leaves_the_old_file(db: Path, tmp_path: Path) -> None:
    import duckdb

    out = tmp_path / "m.csv"
    out.write_text("old\n")
    broken = tmp_path / "broken.duckdb"
    con = duckdb.connect(str(broken))
    load_duckdb(DATA, con)
    # A value DuckDB can only fail on while the query runs.
    con.execute("CREATE OR REPLACE TABLE orders AS SELECT * REPLACE ('x' AS amount) FROM orders")
    con.close()
    with Database(broken) as d, pytest.raises(segql.EngineError):
        d.export("total_spent > 1", DATA.schema, out, format="csv", as_of=AS_OF)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.duckdb", "m.csv"]


# --- problems that are not in an expression ----------------------------------------------


def test_command_level_errors_have_no_made_up_position(tmp_path: Path, db: Path) -> None:
    r = run("count", "age > 1", *base(tmp_path / "nope.duckdb"))
    assert r.returncode == 1
    assert r.stderr.startswith("error[missing-database]")
    r = run("members", "age > 1", *base(db), "--fields", "emial")
    assert r.returncode == 1 and "<expr>" not in r.stderr
    assert "did you mean `email`?" in r.stderr


def test_check_counts_and_sorts(tmp_path: Path) -> None:
    r = run("check", "--schema", str(SCHEMA), "--catalog", str(CATALOG))
    assert "ok: 16 fields, 2 streams, 6 traits, 3 segments" in r.stdout
    cat = tmp_path / "c.yaml"
    cat.write_text("segments:\n  b:\n    where: agge > 1\n  a:\n    where: countri = 1\n")
    r = run("check", "--schema", str(SCHEMA), "--catalog", str(cat))
    lines = [ln for ln in r.stderr.splitlines() if "error[" in ln]
    assert lines == sorted(lines, key=lambda ln: int(ln.split(":")[1]))


def test_one_broken_segment_only_hides_itself(tmp_path: Path, db: Path) -> None:
    cat = tmp_path / "c.yaml"
    cat.write_text(
        "segments:\n  good:\n    where: has orders\n  bad:\n    where: agge > 1\n"
        "  worse:\n    where: in segment bad and age > 1\n"
    )
    args = ["--schema", str(SCHEMA), "--catalog", str(cat), "--db", str(db)]
    r = run("count", "@good", *args, "--as-of", "2026-06-01T12:00:00")
    assert (r.returncode, r.stdout.strip()) == (0, "4"), r.stderr
    assert "warning[broken-segment]: segment `bad` has errors and was skipped" in r.stderr
    r = run("count", "@bad", *args)
    assert r.returncode == 1 and "unknown name `agge`" in r.stderr
    r = run("count", "in segment worse", *args)
    assert r.returncode == 1
    r = run("check", "--schema", str(SCHEMA), "--catalog", str(cat))
    assert r.returncode == 1  # check stays strict


def test_no_color_set_but_empty_keeps_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    from segql.tools import commands

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("NO_COLOR", "")
    assert commands._color(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not commands._color(Tty())


# --- the engine is locked down --------------------------------------------------------------


def _table_schema(table: str) -> segql.core.schema.Schema:
    return segql.load_schema({"entity": {"table": table, "key": "id", "fields": {"a": "integer"}}})


@pytest.mark.parametrize(
    "table",
    ["{secret}", "{folder}/*.csv", "https://example.com/x.parquet", "s3://bucket/x.parquet",
     "x.xlsx", "{folder}/secret.json"],
)  # fmt: skip
def test_a_table_never_reads_files_urls_or_installs_extensions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    secret = tmp_path / "secret.csv"
    secret.write_text("id,a\n1,2\n")
    (tmp_path / "secret.json").write_text('{"id": 1, "a": 2}\n')
    name = table.format(secret=secret, folder=tmp_path)
    with Database() as d, pytest.raises(segql.EngineError) as info:
        d.count("a > 0", _table_schema(name))
    assert info.value.code == "missing-table"
    assert "use `file:` for a file" in str(info.value) or "://" in name
    assert not (tmp_path / "home" / ".duckdb").exists()


def test_file_sources_outside_the_allowed_folders_are_refused(tmp_path: Path) -> None:
    import duckdb

    data = tmp_path / "data"
    data.mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS id, 2 AS a) TO '{data / 'c.parquet'}'")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "schema.yaml").write_text(
        "entity:\n  file: ../data/c.parquet\n  key: id\n  fields: {a: integer}\n"
    )
    schema = segql.load_schema(conf / "schema.yaml")
    with Database() as d, pytest.raises(segql.EngineError) as info:
        d.count("a > 0", schema)
    d0 = info.value.diagnostic
    assert d0.code == "file-not-allowed" and d0.file and d0.file.endswith("schema.yaml")
    with Database(file_roots=[data]) as d:
        assert d.count("a > 0", schema) == 1
        # Once locked, the configuration cannot be changed back.
        import duckdb as ddb

        with pytest.raises(ddb.Error):
            d.con.execute("SET enable_external_access = true")
        with pytest.raises(ddb.Error):
            d.con.execute(f"SELECT * FROM read_csv('{tmp_path}/x.csv')")
    r = run("count", "a > 0", "--schema", str(conf / "schema.yaml"), "--allow-files", str(data))
    assert (r.returncode, r.stdout.strip()) == (0, "1"), r.stderr


def test_every_runtime_import_is_a_core_dependency() -> None:
    """What `pip install segql` brings is enough for every command (pyarrow included);
    an engine's client comes with its extra, imported only in that engine's module."""
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower().replace("-", "_") for d in deps}
    modules = {"prompt_toolkit": "prompt_toolkit", "yaml": "pyyaml"}
    extras = {
        "psycopg": "postgres",
        "pyspark": "spark",
        "py4j": "spark",
        "chdb": "clickhouse",
        "clickhouse_connect": "clickhouse",
    }
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    for extra in extras.values():
        assert extra in declared["optional-dependencies"], extra
    imported: set[str] = set()
    for path in (root / "segql").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    # numpy: used when present; engine clients: their extras (and only segql/engines)
    stdlib = set(sys.stdlib_module_names) | {"segql", "numpy", *extras}
    third = {modules.get(m, m) for m in imported - stdlib}
    assert third <= names, third - names
    for path in (root / "segql").rglob("*.py"):
        if "engines" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert not any(f"import {m}" in text for m in extras), path


# --- the demo and file sources on other dialects --------------------------------------------


def test_file_sources_compile_for_any_dialect_as_tables_named_after_their_files() -> None:
    root = Path(__file__).resolve().parent.parent
    schema = segql.load_schema(root / "examples" / "shop" / "schema.yaml")
    for dialect in ("postgres", "sqlite", "bigquery"):
        sql = segql.to_sql("purchases > 3 and last_open < 30d", schema, dialect=dialect)
        assert sql.startswith("/* segql: file sources are read as tables named after their")
        assert "orders.parquet" in sql.splitlines()[0]
        assert "read_parquet" not in sql
    assert "READ_PARQUET" in segql.to_sql("purchases > 3", schema, dialect="duckdb")


def test_two_files_with_one_name_are_refused_on_other_dialects(tmp_path: Path) -> None:
    schema = segql.load_schema(
        {
            "entity": {"file": str(tmp_path / "a" / "x.parquet"), "key": "id", "fields": {}},
            "events": {
                "e": {"file": str(tmp_path / "b" / "x.csv"), "key": "k", "time": "t"},
            },
        }
    )
    with pytest.raises(segql.CheckError) as info:
        segql.to_sql("has e", schema, dialect="postgres")
    assert info.value.code == "file-source"
    assert "`x.csv` and `x.parquet`" in str(info.value)


def test_the_demo_keeps_what_the_user_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segql.tools.demo import generate as gen
    from segql.tools.demo import run as demo

    real = gen.generate
    monkeypatch.setattr(gen, "generate", lambda target: real(target, contacts=60))
    cache = tmp_path / "cache"
    folder = demo.prepare(cache)
    catalog = folder / "segments.yaml"
    bundled = catalog.read_text()
    mine = bundled + "  my_segment:\n    where: age > 30\n"
    catalog.write_text(mine)
    notes: list[str] = []
    out = io.StringIO()
    assert demo.run_demo(out=out, cache_dir=cache) == 0
    assert catalog.read_text() == mine
    assert "my_segment" in out.getvalue() and "kept your changes" in out.getvalue()
    # An untouched file still follows the bundled one (e.g. after an upgrade).
    project = folder / "segql.toml"
    assert project.read_text() == demo.demo_files()["segql.toml"]
    catalog.unlink()
    demo.prepare(cache, notes=notes)
    assert catalog.read_text() == bundled and not notes


def test_pyproject_mistakes_point_into_the_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nschema = 1\n\n[tool.segql]\nschema = 3\n', encoding="utf-8"
    )
    r = run("check", cwd=tmp_path)
    assert r.returncode == 1
    assert "pyproject.toml:6:1: error[project-bad-value]: `tool.segql.schema`" in r.stderr


def test_fmt_without_files_formats_the_projects(tmp_path: Path) -> None:
    (tmp_path / "segql.toml").write_text('schema = "s.yaml"\ncatalogs = ["c.yaml"]\n')
    (tmp_path / "s.yaml").write_text(SCHEMA.read_text())
    (tmp_path / "c.yaml").write_text("segments:\n  a:\n    where: AGE>3\n")
    r = run("fmt", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c.yaml").read_text() == "segments:\n  a:\n    where: AGE > 3\n"
    r = run("fmt", cwd=Path("/"))
    assert r.returncode == 2 and "no files" in r.stderr


def test_compile_time_errors_show_the_expression(db: Path) -> None:
    r = run("count", "signup_at within 2026y", *base(db))
    assert r.returncode == 1 and "error[out-of-range]" in r.stderr
    assert "1 | signup_at within 2026y" in r.stderr and "^~~~~" in r.stderr


def test_limits_from_the_project_file_and_options(tmp_path: Path, db: Path) -> None:
    _project(tmp_path, db, "limits = {max_length = 10}\n")
    r = run("count", "age > 1 and age < 100", cwd=tmp_path)
    assert r.returncode == 1 and "limit-exceeded" in r.stderr
    r = run("count", "age > 1 and age < 100", "--limit", "max_length=100", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("sql", "age > 1 and age < 100", "--limit", "max-length=5", cwd=tmp_path)
    assert r.returncode == 1 and "limit-exceeded" in r.stderr
    _project(tmp_path, db, "limits = {max_lenght = 10}\n")
    r = run("count", "age > 1", cwd=tmp_path)
    assert r.returncode == 1 and "did you mean `max_length`?" in r.stderr
