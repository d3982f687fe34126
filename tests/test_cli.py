"""The `segql` command line, through the installed console script."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus_data import corpus_dataset
from engines import load_duckdb

HERE = Path(__file__).parent / "fixtures" / "cli"
SCHEMA = HERE / "schema.yaml"
CATALOG = HERE / "segments.yaml"
AS_OF = "2026-06-01T12:00:00"


def _script() -> str:
    exe = Path(sys.executable).with_name("segql")
    if exe.exists():
        return str(exe)
    found = shutil.which("segql")
    assert found, "the segql console script is not installed (pip install -e .)"
    return found


SEGQL = _script()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [SEGQL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("cli") / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(corpus_dataset(), con)
    con.close()
    return path


def base(db: Path | None = None) -> list[str]:
    args = ["--schema", str(SCHEMA), "--catalog", str(CATALOG), "--as-of", AS_OF]
    return [*args, "--db", str(db)] if db else args


# --- help and usage ----------------------------------------------------------------


def test_help_is_fast_and_lists_commands() -> None:
    start = time.perf_counter()
    r = run("--help")
    elapsed = time.perf_counter() - start
    assert r.returncode == 0
    for cmd in ("sql", "count", "members", "check", "fmt", "repl", "demo"):
        assert cmd in r.stdout
    assert elapsed < 2.0  # the 200 ms budget is measured in bench/, not here


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from segql.tools.arguments import build_parser; build_parser(); "
        "heavy = [m for m in ('sqlglot', 'duckdb', 'prompt_toolkit', 'pyarrow', 'lark') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sql_help_marks_experimental_dialects() -> None:
    r = run("sql", "--help")
    assert "experimental" in r.stdout and "postgres" in r.stdout


def test_usage_errors_exit_2() -> None:
    assert run().returncode == 2
    assert run("nosuchcommand").returncode == 2
    r = run("count", "x > 1", "--schema", str(SCHEMA), "--as-of", "yesterday")
    assert r.returncode == 2
    assert "--as-of" in r.stderr


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("segql ")


# --- sql ------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "sqlite", "bigquery"])
def test_sql_for_each_dialect(dialect: str) -> None:
    r = run("sql", "@vip", *base(), "--dialect", dialect)
    assert r.returncode == 0, r.stderr
    assert "SELECT" in r.stdout


def test_sql_is_deterministic_for_an_as_of() -> None:
    a = run("sql", "last_order < 30d", *base())
    b = run("sql", "last_order < 30d", *base())
    assert a.stdout == b.stdout and "2026-05-02 12:00:00" in a.stdout


def test_sql_unknown_dialect_is_a_usage_error_with_a_suggestion() -> None:
    r = run("sql", "age > 1", *base(), "--dialect", "nosuchsql")
    assert r.returncode == 2
    assert "unknown dialect `nosuchsql`" in r.stderr and "supported: duckdb" in r.stderr
    r = run("sql", "age > 1", *base(), "--dialect", "postgress")
    assert r.returncode == 2
    assert "did you mean `postgres`?" in r.stderr
    assert "Traceback" not in r.stderr


def test_sqlite_refuses_lists() -> None:
    r = run("sql", "tags contains 'vip'", *base(), "--dialect", "sqlite")
    assert r.returncode == 1
    assert "unsupported-construct" in r.stderr


# --- errors -----------------------------------------------------------------------------


def test_syntax_error_has_caret_and_exit_1(db: Path) -> None:
    r = run("count", "purchases > 3 and", *base(db))
    assert r.returncode == 1
    assert "^~~" in r.stderr
    assert "<expr>:1:15" in r.stderr
    assert "\x1b[" not in r.stderr  # no colour when not a terminal


def test_type_error_with_hint(db: Path) -> None:
    r = run("count", "last_open < 30", *base(db))
    assert r.returncode == 1
    assert "did you mean `30d`?" in r.stderr


def test_unknown_catalog_segment(db: Path) -> None:
    r = run("count", "@vipp", *base(db))
    assert r.returncode == 1
    assert "did you mean `@vip`?" in r.stderr


def test_warnings_go_to_stderr_but_succeed(db: Path) -> None:
    r = run("count", "country = 'de'", *base(db))
    assert r.returncode == 0
    assert r.stdout.strip() == "0"
    assert "did you mean 'DE'?" in r.stderr


def test_missing_table_is_a_positioned_user_error(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    r = run("count", "age > 1", *base(path))
    assert r.returncode == 1
    assert "table `contacts` of the entity does not exist" in r.stderr


def test_missing_database_file(tmp_path: Path) -> None:
    r = run("count", "age > 1", *base(tmp_path / "nope.duckdb"))
    assert r.returncode == 1
    assert "does not exist" in r.stderr


# --- count and members ------------------------------------------------------------------


def test_count(db: Path) -> None:
    r = run("count", "@buyers", *base(db))
    assert (r.returncode, r.stdout.strip()) == (0, "4")
    r = run("count", "in segment vip or age > 60", *base(db))
    assert r.stdout.strip() == "2"


def test_as_of_date_and_timezone_forms(db: Path) -> None:
    args = ["count", "last_order < 30d", "--schema", str(SCHEMA), "--db", str(db)]
    assert run(*args, "--as-of", "2026-06-01").stdout.strip() == "2"
    assert run(*args, "--as-of", "2026-06-01T14:00:00+02:00").stdout.strip() == "1"


def test_members_csv_to_stdout(db: Path) -> None:
    r = run("members", "@buyers", *base(db), "--fields", "email,country")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {row["id"] for row in rows} == {"1", "2", "4", "5"}
    assert {row["email"] for row in rows} >= {"it's%_@x.com"}


def test_members_jsonl_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    r = run("members", "@buyers", *base(db), "-o", str(out), "--fields", "signup_at")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["id"] for row in rows} == {1, 2, 4, 5}
    assert any(row["signup_at"] == "2026-06-01T12:00:00Z" for row in rows)


def test_members_parquet(db: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "m.parquet"
    r = run("members", "@buyers", *base(db), "-f", "parquet", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(pq.read_table(out).column("id").to_pylist()) == [1, 2, 4, 5]


def test_members_parquet_to_a_pipe(db: Path) -> None:
    import pyarrow.parquet as pq

    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run(
        [SEGQL, "members", "@buyers", *base(db), "-f", "parquet"],
        capture_output=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(pq.read_table(io.BytesIO(r.stdout)).column("id").to_pylist()) == [1, 2, 4, 5]


def test_members_unknown_field(db: Path) -> None:
    r = run("members", "@buyers", *base(db), "--fields", "emial")
    assert r.returncode == 1
    assert "did you mean `email`?" in r.stderr


# --- check ------------------------------------------------------------------------------


def test_check_ok() -> None:
    r = run("check", "--schema", str(SCHEMA), "--catalog", str(CATALOG))
    assert r.returncode == 0
    assert "3 segments" in r.stdout


def test_check_reports_every_problem_in_yaml_and_toml() -> None:
    r = run(
        "check",
        "--schema",
        str(SCHEMA),
        "--catalog",
        str(HERE / "broken.yaml"),
        "--catalog",
        str(HERE / "broken.toml"),
    )
    assert r.returncode == 1
    err = r.stderr
    assert "broken.yaml:5:11: error[unknown-name]: unknown name `countri`" in err
    assert "broken.yaml:9:19: error[type-mismatch]" in err
    assert "broken.toml:7:16: error[ambiguous-duration]" in err
    assert "broken.toml:1:11: error[schema-duplicate-name]" in err
    assert "first defined at" in err and "broken.yaml:2" in err


def test_check_json() -> None:
    r = run("check", "--schema", str(SCHEMA), "--catalog", str(HERE / "broken.yaml"), "--json")
    assert r.returncode == 1
    diags = [json.loads(line) for line in r.stdout.splitlines()]
    assert {d["code"] for d in diags} == {"unknown-name", "type-mismatch"}
    assert all({"line", "column", "end_line", "end_column", "hints"} <= d.keys() for d in diags)


# --- fmt --------------------------------------------------------------------------------

UNFORMATTED = """\
# a catalog
segments:
  vip:
    description: keep this comment  # here
    where: PURCHASES >= 5 AND total_spent>1000
  other: "country IN ('DE','AT')"
"""


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(UNFORMATTED)
    r = run("fmt", "--check", str(path))
    assert r.returncode == 1 and "would reformat" in r.stdout
    assert path.read_text() == UNFORMATTED
    r = run("fmt", str(path))
    assert r.returncode == 0
    text = path.read_text()
    assert "where: PURCHASES >= 5 and total_spent > 1000" in text
    assert "other: \"country in ['DE', 'AT']\"" in text
    assert "# a catalog" in text and "keep this comment  # here" in text
    r = run("fmt", "--check", str(path))
    assert r.returncode == 0


def test_fmt_formatted_files_are_left_alone() -> None:
    r = run("fmt", "--check", str(CATALOG), str(SCHEMA))
    assert r.returncode == 0


def test_fmt_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[segments.a]\nwhere = "AGE>3"  # comment\n')
    assert run("fmt", str(path)).returncode == 0
    assert path.read_text() == '[segments.a]\nwhere = "AGE > 3"  # comment\n'


def test_fmt_syntax_error_points_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("segments:\n  a:\n    where: |\n      age > 3 and\n      x ==\n")
    r = run("fmt", str(path))
    assert r.returncode == 1
    assert "c.yaml:5:9" in r.stderr


# --- several segments at once, profiles and overlaps (CONTRACT §6.1–6.3) -----------------


def test_count_several_segments_in_one_query(db: Path) -> None:
    r = run("count", "@vip", "@buyers", "@value_class", *base(db), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "contacts": 6,
        "segments": {"vip": 1, "buyers": 4},
        "segmentations": {
            "value_class": {"very_good": 1, "good": 0, "occasional": 3, "prospects": 2}
        },
    }
    r = run("count", "--all", *base(db))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["segment", "members", "share"]
    assert any(line.split()[:4] == ["value_class", "=", "occasional", "3"] for line in lines)
    assert lines[-1].split() == ["(contacts)", "6"]
    assert run("count", "@vip", *base(db)).stdout == "1\n"  # one segment: the number alone
    r = run("count", "@vip", "age > 3", *base(db))
    assert r.returncode == 2 and "name catalog segments or segmentations with @" in r.stderr
    r = run("count", "@vip", "@vpi", *base(db))
    assert r.returncode == 1 and "did you mean `@vip`?" in r.stderr
    assert run("count", *base(db)).returncode == 2


def test_members_with_values(db: Path) -> None:
    r = run(
        "members", "@buyers", *base(db), "--fields",
        "email, value_class, round(total_spent, 1) as spent, last_value(orders.product) as p",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["id", "email", "value_class", "spent", "p"]
    one = next(row for row in rows if row["id"] == "1")
    assert (one["value_class"], one["spent"], one["p"]) == ("very_good", "1110.3", "boots")
    r = run("members", "@buyers", *base(db), "--fields", "total_spent * 2")
    assert r.returncode == 1 and "name a value expression with `as`" in r.stderr


def test_profile_and_overlap(db: Path) -> None:
    r = run("profile", "@value_class", "-m", "total_spent, age as years", *base(db),
            "--format", "json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"as_of", "population", "groups", "separation", "warnings"}
    assert out["population"] == 6 and out["as_of"] == "2026-06-01T12:00:00Z"
    assert [g["name"] for g in out["groups"]] == ["very_good", "good", "occasional", "prospects"]
    assert out["groups"][0]["metrics"]["total_spent"]["max"] == 1110.25
    assert set(out["separation"]) == {"total_spent", "years"}
    assert {w["code"] for w in out["warnings"]} == {"small-class"}  # six contacts in all
    table = run("profile", "@value_class", "-m", "total_spent", *base(db)).stdout
    assert "total_spent  (η² " in table and "warning[small-class]" in table
    text = run("profile", "@vip", "-m", "total_spent", *base(db), "--format", "csv").stdout
    assert text.splitlines()[0].startswith("group,size,share,metric,count,nulls,mean")
    r = run("profile", "@vip", "-m", "email", *base(db))
    assert r.returncode == 1 and "must be a number" in r.stderr
    r = run("overlap", "@vip", "@buyers", "@lapsed_vip", *base(db), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["segments"] == [{"name": "vip", "size": 1}, {"name": "buyers", "size": 4},
                               {"name": "lapsed_vip", "size": 0}]  # fmt: skip
    assert out["pairs"][0] == {"a": "vip", "b": "buyers", "both": 1, "jaccard": 0.25}
    assert out["pairs"][1]["jaccard"] == 0.0 and out["pairs"][2]["jaccard"] == 0.0
    assert run("overlap", "@vip", *base(db)).returncode == 2
    r = run("overlap", "@vip", "@value_class", *base(db))
    assert r.returncode == 1 and "classes never overlap" in r.stderr


def test_explain_a_contact(db: Path) -> None:
    r = run("explain", "@lapsed_vip", "--contact", "1", *base(db))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "contact 1 is not a member"
    assert "false    last_order > 180d   (last_order = 2026-05-30T00:00:00)" in r.stdout
    r = run("explain", "@value_class", "-k", "2", *base(db), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["class"] == "occasional" and out["clauses"]["kind"] == "segmentation"
    r = run("explain", "age > 3", "--contact", "x", *base(db))
    assert r.returncode == 1 and "not an integer" in r.stderr


def test_history_and_diff(db: Path) -> None:
    r = run("history", "@buyers", "--from", "2025-06-01", "--every", "13w", *base(db),
            "--format", "json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    points = json.loads(r.stdout)
    assert points[0] == {"as_of": "2025-06-01T00:00:00Z", "size": 0, "entered": None,
                         "exited": None}  # fmt: skip
    assert points[-1]["as_of"] == "2026-05-31T00:00:00Z"
    table = run("history", "@buyers", "--from", "2025-06-01", "--every", "13w", *base(db))
    assert table.returncode == 0 and table.stdout.splitlines()[-1].startswith("▁")
    r = run("diff", "@buyers", "--against", "2025-06-01", *base(db), "--members",
            "--format", "json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["entered"], out["exited"], out["stayed"]) == (4, 0, 0)
    assert out["members"]["entered"] == [1, 2, 4, 5]
    r = run("history", "@buyers", "--from", "2025-06-01", "--every", "soon", *base(db))
    assert r.returncode == 1 and "not a duration" in r.stderr
