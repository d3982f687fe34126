"""The REPL: session logic, completion, highlighting, prompt_toolkit pipe input, scripts."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from corpus_data import AS_OF, corpus_dataset
from engines import load_duckdb

from segql.config import load_catalog
from segql.engine import Database
from segql.repl import Session, completions_for, highlight, needs_more, run_repl

DATA = corpus_dataset()
HERE = Path(__file__).parent / "fixtures" / "cli"


@pytest.fixture
def db() -> Database:
    return Database(connection=load_duckdb(DATA))


def session(db: Database, **kw: Any) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(DATA.schema, db, as_of=AS_OF, out=out, **kw), out


def test_expression_prints_count_and_share(db: Database) -> None:
    s, out = session(db)
    assert s.handle("purchases >= 1")
    assert out.getvalue().strip() == "4 members (66.7% of 6 contacts)"


def test_errors_have_a_caret_under_the_input(db: Database) -> None:
    s, out = session(db)
    assert not s.handle("purchases > 3 and")
    text = out.getvalue()
    assert "^~~" in text and "purchases > 3 and" in text


def test_warnings_are_shown(db: Database) -> None:
    s, out = session(db)
    assert s.handle("country = 'de'")
    assert "did you mean 'DE'?" in out.getvalue()


def test_meta_commands(db: Database) -> None:
    s, out = session(db)
    assert not s.handle(":sql")  # nothing yet
    s.handle("age > 30")
    assert s.handle(":sql postgres")
    assert '"c"."age" > 30' in out.getvalue()
    assert s.handle(":schema")
    assert "event streams:" in out.getvalue() and "`first name`: string" in out.getvalue()
    assert s.handle(":segments")
    assert "buyers" in out.getvalue()
    assert s.handle(":as-of 2026-01-01")
    assert "as of 2026-01-01 00:00:00 UTC" in out.getvalue()
    assert not s.handle(":as-of someday")
    assert s.handle(":help") and ":save NAME" in out.getvalue()
    assert not s.handle(":nonsense")
    with pytest.raises(EOFError):
        s.handle(":quit")


def test_save_appends_to_a_yaml_catalog(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "c.yaml"
    cat.write_text("# mine\nsegments:\n  old:\n    where: age > 1\n")
    s, _ = session(db, catalog_path=cat)
    assert not s.handle(":save x")  # nothing to save yet
    s.handle("purchases >= 1 and `first name` is null")
    assert not s.handle(":save 9bad")
    assert not s.handle(":save old")  # already in the file
    assert s.handle(":save frequent")
    assert not s.handle(":save frequent")
    segments, diags = load_catalog(cat)
    assert not diags
    assert segments["frequent"].text.strip() == "purchases >= 1 and `first name` is null"
    assert cat.read_text().startswith("# mine\n")
    assert s.handle("in segment frequent")


def test_save_creates_a_new_catalog(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "new.yaml"
    s, _ = session(db, catalog_path=cat)
    s.handle("email contains ': #'")
    assert s.handle(":save odd")
    segments, diags = load_catalog(cat)
    assert not diags and segments["odd"].text.strip() == "email contains ': #'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["email", "purchases", "has ", "count(", "`first name`"]),
        ("age > 3 and ", ["email", "last_order"]),
        ("count(", ["orders", "email_opens"]),
        ("has ", ["orders", "email_opens"]),
        ("count(orders where ", ["amount", "category", "ordered_at"]),
        ("has orders where amount > 3 and ", ["gift", "quantity"]),
        ("country = ", ["'DE'", "'US'"]),
        ("country in ['DE', ", ["'FR'"]),
        ("in segment ", ["vip", "buyers"]),
        ("last_order < 30", ["30d", "30mo", "30min"]),
        ("age ", ["between", "is null", "in"]),
        ("sum(orders.", ["orders.amount"]),
    ],
)
def test_completion_contexts(text: str, expected: list[str]) -> None:
    _, cands = completions_for(text, DATA.schema)
    for e in expected:
        assert e in cands, (text, cands)


def test_completer_filters_by_prefix() -> None:
    from prompt_toolkit.document import Document

    from segql.repl import SegqlCompleter

    comp = SegqlCompleter(DATA.schema)
    got = [c.text for c in comp.get_completions(Document("purch"), None)]
    assert got == ["purchases"]


def test_highlighting() -> None:
    frags = highlight("age > 30d and name = 'x' # note")
    styles = {text: style for style, text in frags}
    assert "bold" in styles["and"]
    assert styles["'x'"] == "ansigreen"
    assert styles["30d"] == "ansiyellow"
    assert any("italic" in style for style, _ in frags)
    bad = highlight("age > 'oops")
    assert bad[-1][0].startswith("bg:ansired")


@pytest.mark.parametrize(
    ("text", "more"),
    [("age > 3 and", True), ("(age > 3", True), ("age >", True), ("age > 3", False), ("", False)],
)
def test_multiline_continuation(text: str, more: bool) -> None:
    assert needs_more(text) is more


def test_prompt_toolkit_session_through_a_pipe(db: Database, tmp_path: Path) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as inp:
        inp.send_text("purchases >=\r1\r:quit\r")
        code = run_repl(
            DATA.schema,
            db,
            as_of=AS_OF,
            input=inp,
            output=DummyOutput(),
            history_path=tmp_path / "hist",
        )
    assert code == 0
    assert "purchases >=" in (tmp_path / "hist").read_text()


def test_script_mode_through_the_cli(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    load_duckdb(DATA, con)
    con.close()
    from test_cli import SEGQL

    script = "purchases >= 1\n# a comment\n\n:as-of 2026-06-01T12:00\n@nope\nin segment vip\n"
    r = subprocess.run(
        [SEGQL, "repl", "--schema", str(HERE / "schema.yaml"), "--catalog",
         str(HERE / "segments.yaml"), "--db", str(path), "--as-of", "2026-06-01T12:00"],
        input=script, capture_output=True, text=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert "4 members (66.7% of 6 contacts)" in r.stdout
    assert "1 members (16.7% of 6 contacts)" in r.stdout
    assert r.returncode == 1  # `@nope` is not an expression
