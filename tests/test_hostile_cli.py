"""The command line under hostile arguments: any expression, time, field list, dialect,
output path or limit gives exit 0, 1 or 2 with a message — never a traceback."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from corpus_data import corpus_dataset
from engines import load_duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import token_soup
from test_cli import CATALOG, SCHEMA

from segql.tools.cli import main


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import duckdb

    path = tmp_path_factory.mktemp("hostile-cli") / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(corpus_dataset(), con)
    con.close()
    return path


def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()

    class Bytes(io.StringIO):
        buffer = io.BytesIO()

    with (
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(Bytes()),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's usage errors
            code = int(e.code or 0)
    return code, out.getvalue() + err.getvalue()


TIMES = st.one_of(
    st.sampled_from(
        ["0001-01-01", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+14:00", "2026-02-30",
         "2026-06-01T25:00", "now", "", " ", "2026-06-01T12:00:00Z", "1970-01-01T00:00:00.999999"]
    ),
    st.text(max_size=30),
)  # fmt: skip
EXPRESSIONS = st.one_of(
    token_soup(),
    st.sampled_from(
        ["within 2026y", "last_order < 3000000d", "signup_at > 9999-12-31T23:59-12:00",
         "round(credit, 400) > 1", "age % 0.000000000000000000000000000000000000000000001 > 0",
         "1" + "0" * 400 + " / 3 > 1", "email = 'a\x00b'", "@vip", "@", "@nope", "top 10% by age"]
    ),
    st.text(max_size=40),
)  # fmt: skip
FIELDS = st.one_of(
    st.sampled_from(["", "email", "email,email", "emial", "total_spent", ",,,", "id", "tags"]),
    st.text(max_size=20),
)
DIALECTS = st.sampled_from(["duckdb", "postgres", "postgress", "sqlite", "bigquery", "", "x"])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=EXPRESSIONS, as_of=TIMES, dialect=DIALECTS)
def test_sql_never_crashes(tmp_path: Path, expr: str, as_of: str, dialect: str) -> None:
    argv = ["sql", expr, "--schema", str(SCHEMA), "--catalog", str(CATALOG), "--no-project"]
    argv += ["--as-of", as_of, "--dialect", dialect]
    code, text = _run(argv, tmp_path)
    assert code in (0, 1, 2), text
    assert "Traceback" not in text


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=EXPRESSIONS, fields=FIELDS, fmt=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_members_never_crash(db: Path, tmp_path: Path, expr: str, fields: str, fmt: str) -> None:
    out = tmp_path / f"m.{fmt}"
    argv = ["members", expr, "--schema", str(SCHEMA), "--catalog", str(CATALOG), "--no-project"]
    argv += ["--db", str(db), "--as-of", "2026-06-01T12:00:00", "--fields", fields, "-o", str(out)]
    code, text = _run(argv, tmp_path)
    assert code in (0, 1, 2), text
    assert "Traceback" not in text
    assert code == 0 or not out.exists() or out.stat().st_size > 0


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    output=st.sampled_from(["-", "x.json", "nodir/x.csv", ".", "x", "x.CSV", "\x00.csv"]),
    limit=st.sampled_from(["max_depth=0", "max_depth=x", "nope=3", "max_terms=5", "=", "a"]),
)
def test_odd_options_are_usage_errors(tmp_path: Path, db: Path, output: str, limit: str) -> None:
    argv = ["members", "age > 1", "--schema", str(SCHEMA), "--no-project", "--db", str(db)]
    argv += ["-o", output, "--limit", limit]
    code, text = _run(argv, tmp_path)
    assert code in (0, 1, 2), text
    assert "Traceback" not in text


TARGETS = st.one_of(
    st.sampled_from(["@vip", "@value_class", "@nope", "@", "age > 1", "age", "", "'x'"]),
    st.text(max_size=20),
)
METRICS = st.one_of(
    st.sampled_from(["age", "email", "", ",,", "age as", "age as 1", "total_spent as `a b`",
                     "percentile(age)", "last(orders)", "age, age", "count(orders) as n"]),
    st.text(max_size=20),
)  # fmt: skip


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["profile", "overlap", "explain", "history", "diff", "count"]),
    target=TARGETS,
    other=TARGETS,
    metrics=METRICS,
    key=st.sampled_from(["1", "x", "", "99", "1.5"]),
    every=st.sampled_from(["1w", "0d", "1x", "", "13w"]),
)
def test_the_analytics_commands_never_crash(
    db: Path, tmp_path: Path, command: str, target: str, other: str, metrics: str, key: str,
    every: str,
) -> None:  # fmt: skip
    argv = [command, target]
    if command in ("overlap", "count"):
        argv.append(other)
    if command == "profile":
        argv += ["--metrics", metrics]
    if command == "explain":
        argv += ["--contact", key]
    if command == "history":
        argv += ["--from", "2026-01-01", "--every", every]
    if command == "diff":
        argv += ["--against", "2026-01-01"]
    argv += ["--schema", str(SCHEMA), "--catalog", str(CATALOG), "--no-project"]
    argv += ["--db", str(db), "--as-of", "2026-06-01T12:00:00"]
    code, text = _run(argv, tmp_path)
    assert code in (0, 1, 2), text
    assert "Traceback" not in text
