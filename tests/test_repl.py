"""The REPL: the session and its meta-commands, :save into YAML catalogs, completion,
highlighting, multi-line input, the prompt_toolkit session through a pipe, script mode."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corpus_data import AS_OF, corpus_dataset
from engines import load_duckdb

from segql.config.loader import load_catalog
from segql.engine import Database
from segql.tools.repl.catalog_edit import SaveError, append_segment
from segql.tools.repl.completion import complete, make_completer
from segql.tools.repl.highlighting import highlight, known_names, make_lexer
from segql.tools.repl.prefix import needs_more
from segql.tools.repl.session import Session
from segql.tools.repl.terminal import run_repl

DATA = corpus_dataset()
SCHEMA = DATA.schema
TESTS = Path(__file__).parent

# A small program that runs the REPL on the corpus data (in-memory DuckDB), for the
# subprocess test here and the terminal test in test_repl_tmux.py.
# usage: python driver.py [CATALOG [HISTORY]]
DRIVER = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from pathlib import Path
from corpus_data import AS_OF, corpus_dataset
from engines import load_duckdb
from segql.engine import Database
from segql.tools.repl.terminal import run_repl

data = corpus_dataset()
db = Database(connection=load_duckdb(data))
args = sys.argv[1:] + ["", ""]
sys.exit(run_repl(
    data.schema, db, as_of=AS_OF,
    catalog_path=Path(args[0]) if args[0] else None,
    history_path=Path(args[1]) if args[1] else None,
))
"""


def write_driver(directory: Path) -> Path:
    path = directory / "driver.py"
    path.write_text(DRIVER, encoding="utf-8")
    return path


@pytest.fixture
def db() -> Database:
    return Database(connection=load_duckdb(DATA))


def session(db: Database, schema: Any = None, **kw: Any) -> tuple[Session, io.StringIO]:
    out = io.StringIO()
    return Session(schema or SCHEMA, db, as_of=AS_OF, out=out, **kw), out


def fresh_schema() -> Any:
    """A schema of its own, for tests that add segments to it."""
    from shop_schema import shop_schema

    return shop_schema()


# --- expressions ---------------------------------------------------------------------


def test_an_expression_prints_its_count_and_share(db: Database) -> None:
    s, out = session(db)
    assert s.handle("purchases >= 1")
    assert s.handle("in segment vip")
    assert out.getvalue().splitlines() == [
        "4 members (66.7% of 6 contacts)",
        "1 member (16.7% of 6 contacts)",
    ]
    assert s.last == "in segment vip"


def test_blank_lines_and_comments_do_nothing(db: Database) -> None:
    s, out = session(db)
    assert s.handle("   ") and s.handle("# just a note")
    assert out.getvalue() == ""


def test_errors_show_the_source_line_and_a_caret(db: Database) -> None:
    s, out = session(db)
    assert not s.handle("age > 'x'")
    assert out.getvalue().splitlines() == [
        "<expr>:1:7: error[type-mismatch]: cannot compare `age` (integer) with `'x'` (string)",
        "   1 | age > 'x'",
        "     |       ^~~",
    ]
    assert s.last is None  # a failed expression is not "the last expression"


def test_syntax_errors_too(db: Database) -> None:
    s, out = session(db)
    assert not s.handle("purchases > 3 and")
    text = out.getvalue()
    assert "error[syntax]" in text and "purchases > 3 and" in text and "^" in text


def test_warnings_are_shown_with_the_count(db: Database) -> None:
    s, out = session(db)
    assert s.handle("country = 'de'")
    text = out.getvalue()
    assert "warning[unknown-value]" in text and "did you mean 'DE'?" in text
    assert text.rstrip().endswith("0 members (0.0% of 6 contacts)")


def test_colour_only_when_asked(db: Database) -> None:
    s, out = session(db, color=True)
    s.handle("age > 'x'")
    assert "\x1b[" in out.getvalue()
    s, out = session(db)
    s.handle("age > 'x'")
    assert "\x1b[" not in out.getvalue()


def test_bare_quit_gets_a_hint(db: Database) -> None:
    s, out = session(db)
    assert not s.handle("quit")
    assert "meta-commands start with a colon: :quit" in out.getvalue()


def test_total_is_counted_once_per_session(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    s, _ = session(db)
    calls: list[object] = []
    real = db.count

    def count(source: Any, *a: Any, **kw: Any) -> int:
        calls.append(source)
        return real(source, *a, **kw)

    monkeypatch.setattr(db, "count", count)
    s.handle("age > 1")
    s.handle("age > 2")
    assert calls.count("true") == 1


# --- meta-commands -------------------------------------------------------------------


def test_sql_of_the_last_expression(db: Database) -> None:
    s, out = session(db)
    assert not s.handle(":sql")
    assert "no expression yet" in out.getvalue()
    s.handle("age > 30")
    assert s.handle(":sql")
    assert '"c"."age" > 30' in out.getvalue()
    assert s.handle(":sql postgres")
    assert s.handle(":sql sqlite")
    out.seek(0)
    out.truncate()
    assert not s.handle(":sql nosuchdialect")
    assert out.getvalue().startswith("error: unknown SQL dialect `nosuchdialect`")
    assert "hint: supported: duckdb" in out.getvalue()


def test_explain_the_last_expression_for_a_contact(db: Database) -> None:
    s, out = session(db)
    assert not s.handle(":explain 1")
    assert "no expression yet" in out.getvalue()
    s.handle("in segment vip and age > 30")
    assert not s.handle(":explain")
    assert s.handle(":explain 1")
    text = out.getvalue()
    assert "contact 1 is a member" in text
    assert "true     purchases >= 5   (purchases = 6)" in text
    assert "true     age > 30   (age = 34)" in text
    assert not s.handle(":explain 77")
    assert "no contact has the key" in out.getvalue()


def test_schema(db: Database) -> None:
    s, out = session(db)
    assert s.handle(":schema")
    text = out.getvalue()
    assert "  country: string  values: US, DE, FR, GB, IN, BR, JP, CA" in text
    assert "  `first name`: string" in text
    assert "  purchases: integer = count(orders)" in text
    assert "  email_opens (time: at) where type = 'open'" in text
    assert "    category: string  values: shoes, bags, books" in text


def test_segments(db: Database) -> None:
    s, out = session(db)
    assert s.handle(":segments")
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"\s+vip\s+1\s+16\.7%", lines[0]), lines
    assert re.fullmatch(r"\s+buyers\s+4\s+66\.7%", lines[2]), lines


def test_segments_without_a_catalog(db: Database) -> None:
    schema = fresh_schema()
    schema.segments.clear()
    out = io.StringIO()
    assert Session(schema, db, out=out).handle(":segments")
    assert "no segments" in out.getvalue()


def test_as_of(db: Database) -> None:
    s, out = session(db)
    assert s.handle(":as-of")
    assert s.handle("has orders within 30d")
    assert s.handle(":as-of 2026-01-01")
    assert s.handle("has orders within 30d")
    assert s.handle(":as-of 2025-06-05T00:00:00+02:00")
    assert not s.handle(":as-of someday")
    assert s.as_of is not None and s.as_of.isoformat() == "2025-06-04T22:00:00+00:00"
    assert out.getvalue().splitlines() == [
        "as of 2026-06-01 12:00:00 UTC",
        "2 members (33.3% of 6 contacts)",
        "as of 2026-01-01 00:00:00 UTC",
        "1 member (16.7% of 6 contacts)",
        "as of 2025-06-04 22:00:00 UTC",
        "error: invalid time 'someday': use an ISO date (2026-06-01) or timestamp "
        "(2026-06-01T12:00:00, UTC unless it has a zone)",
    ]
    s2, out2 = session(db)
    s2.as_of = None
    s2.handle(":as-of")
    assert "as of now" in out2.getvalue()


def test_help_quit_and_unknown_commands(db: Database) -> None:
    s, out = session(db)
    assert s.handle(":help")
    for cmd in (":sql", ":schema", ":segments", ":as-of", ":save NAME", ":help", ":quit"):
        assert cmd in out.getvalue()
    for quit in (":quit", ":q", ":exit"):
        with pytest.raises(EOFError):
            s.handle(quit)
    out.seek(0)
    out.truncate()
    assert not s.handle(":frobnicate")
    assert "unknown command `:frobnicate`" in out.getvalue() and ":segments" in out.getvalue()
    assert not s.handle(":shema")
    assert "did you mean :schema?" in out.getvalue()
    assert s.handle(":seg")  # a unique prefix is enough


# --- :save ---------------------------------------------------------------------------

CATALOG = """\
# Our segments.
segments:
  vip:
    description: Frequent, high-value customers
    where: purchases >= 5 and total_spent > 1000
    tags: [loyalty]
  lapsed:
    where: |
      in segment vip
        and last_order > 180d

  # end of segments
"""


def test_save_appends_to_the_catalog(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "segments.yaml"
    cat.write_text(CATALOG)
    schema = fresh_schema()
    s, out = session(db, schema, catalog_path=cat)
    assert not s.handle(":save frequent")  # nothing to save yet
    assert s.handle("purchases >= 1 and `first name` is null")
    assert not s.handle(":save")
    assert not s.handle(":save 9lives")
    assert not s.handle(":save and")  # a keyword
    assert not s.handle(":save vip")  # exists in the session's schema
    assert s.handle(":save frequent Bought at least once")
    assert f"saved segment `frequent` to {cat}" in out.getvalue()
    assert not s.handle(":save frequent")
    assert cat.read_text() == CATALOG.replace(
        "\n\n  # end",
        "\n  frequent:\n"
        '    description: "Bought at least once"\n'
        "    where: purchases >= 1 and `first name` is null\n"
        "\n  # end",
    )
    segments, diags = load_catalog(cat)
    assert not diags
    assert list(segments) == ["vip", "lapsed", "frequent"]
    assert segments["frequent"].text == "purchases >= 1 and `first name` is null"
    assert segments["frequent"].description == "Bought at least once"
    assert segments["lapsed"].text == "in segment vip\n  and last_order > 180d\n"
    # The session knows the new segment at once.
    assert s.handle("in segment frequent")
    assert out.getvalue().rstrip().endswith("2 members (33.3% of 6 contacts)")
    _, cands = complete("in segment fr", s.schema)
    assert [c.text for c in cands] == ["frequent"]
    # …in a new schema: the one the caller passed is plain data, never changed.
    assert "frequent" not in schema.segments


def test_save_refuses_a_name_already_in_the_file(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "segments.yaml"
    cat.write_text("segments:\n  mine:\n    where: age > 1\n")
    s, out = session(db, catalog_path=cat)
    s.handle("age > 2")
    assert not s.handle(":save mine")
    assert "already exists" in out.getvalue()
    assert cat.read_text() == "segments:\n  mine:\n    where: age > 1\n"


def test_save_without_a_catalog_file(db: Database) -> None:
    s, out = session(db)
    s.handle("age > 2")
    assert not s.handle(":save x")
    assert "--catalog" in out.getvalue()


def test_save_creates_the_file(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "new" / "segments.yml"
    s, _ = session(db, fresh_schema(), catalog_path=cat)
    s.handle("email contains ': #'")  # not a plain YAML scalar: a block string
    assert s.handle(":save odd")
    assert cat.read_text() == "segments:\n  odd:\n    where: |\n      email contains ': #'\n"
    segments, diags = load_catalog(cat)
    assert not diags and segments["odd"].text == "email contains ': #'\n"


def test_save_writes_long_expressions_as_block_strings(tmp_path: Path) -> None:
    cat = tmp_path / "c.yaml"
    text = (
        "purchases >= 5 and total_spent > 1000\nand country in ['DE', 'AT', 'CH']\n"
        "and count(orders where category = 'shoes' within 90d) >= 2"
    )
    append_segment(cat, "long", text)
    assert cat.read_text() == (
        "segments:\n  long:\n    where: |\n"
        "      purchases >= 5 and total_spent > 1000\n"
        "      and country in ['DE', 'AT', 'CH']\n"
        "      and count(orders where category = 'shoes' within 90d) >= 2\n"
    )
    segments, diags = load_catalog(cat)
    assert not diags and segments["long"].text == text + "\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the file's own indentation
        (
            "segments:\n    a:\n        where: age > 1\n",
            "segments:\n    a:\n        where: age > 1\n    b:\n        where: age > 2\n",
        ),
        # `segments:` not last: the entry goes under it, not at the end of the file
        (
            "segments:\n  a: {where: age > 1}\n# tail\n",
            "segments:\n  a: {where: age > 1}\n  b:\n    where: age > 2\n# tail\n",
        ),
        # an empty section
        ("segments:   # none yet\n", "segments:   # none yet\n  b:\n    where: age > 2\n"),
        # no section yet (and no final newline)
        ("# only a comment", "# only a comment\nsegments:\n  b:\n    where: age > 2\n"),
        ("", "segments:\n  b:\n    where: age > 2\n"),
        # empty sections in every spelling (issue 9)
        ("segments: {}\n", "segments:\n  b:\n    where: age > 2\n"),
        ("segments: {}  # none yet\n", "segments:  # none yet\n  b:\n    where: age > 2\n"),
        ("segments: ~\n", "segments:\n  b:\n    where: age > 2\n"),
        ("segments: null\n# tail\n", "segments:\n  b:\n    where: age > 2\n# tail\n"),
        ("segments:", "segments:\n  b:\n    where: age > 2\n"),
        # line endings and a byte order mark are kept
        ("segments:\r\n  a: age > 1\r\n",
         "segments:\r\n  a: age > 1\r\n  b:\r\n    where: age > 2\r\n"),
        ("\ufeffsegments: {}\r\n", "\ufeffsegments:\r\n  b:\r\n    where: age > 2\r\n"),
    ],
)  # fmt: skip
def test_save_keeps_the_rest_of_the_file(tmp_path: Path, before: str, after: str) -> None:
    cat = tmp_path / "c.yaml"
    cat.write_bytes(before.encode())
    append_segment(cat, "b", "age > 2")
    assert cat.read_bytes().decode() == after
    segments, diags = load_catalog(cat)
    assert not diags and segments["b"].text == "age > 2"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("c.toml", "", "YAML catalogs only"),
        ("c.yaml", "segments: {a: {where: age > 1}}\n", "not a block mapping"),
        ("c.yaml", "- a\n- b\n", "not a block mapping"),
        ("c.yaml", "segments:\r  a: age > 1\r", "lone CR"),
        ("c.yaml", "segments:\n  a: caf\xe9\n", "not UTF-8"),
        ("c.yaml", "segments:\n  b: {where: x}\n", "already exists"),
    ],
)
def test_save_refuses_files_it_cannot_edit_safely(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    cat = tmp_path / name
    cat.write_bytes(content.encode("latin-1"))
    with pytest.raises(SaveError, match=message):
        append_segment(cat, "b", "age > 2")
    assert cat.read_bytes() == content.encode("latin-1")


def test_save_writes_atomically_and_keeps_the_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = tmp_path / "c.yaml"
    cat.write_text("segments:\n  a: age > 1\n")
    cat.chmod(0o600)
    append_segment(cat, "b", "age > 2")
    assert cat.stat().st_mode & 0o777 == 0o600
    before = cat.read_text()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SaveError, match="No space left on device"):
        append_segment(cat, "c", "age > 3")
    assert cat.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_catalogs_to_load_skips_a_missing_save_target(tmp_path: Path) -> None:
    from segql.tools.repl.catalog_edit import catalogs_to_load

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("segments: {}\n")
    assert catalogs_to_load([a, b]) == [a]
    assert catalogs_to_load([b, a]) == [b, a]  # only the last one is :save's: load errors
    assert catalogs_to_load([]) == []


# --- completion ----------------------------------------------------------------------


def texts(text: str) -> list[str]:
    return [c.text for c in complete(text, SCHEMA)[1]]


@pytest.mark.parametrize(
    ("text", "expected", "absent"),
    [
        # the start: fields, traits, has, not, in segment, top, functions, aggregates
        ("", ["email", "`first name`", "`by`", "purchases", "has ", "not ", "in segment ",
              "top ", "count(", "lower(", "days_since(", "percentile("], ["and ", "="]),
        ("age > 3 and ", ["email", "last_order", "has "], ["and "]),
        ("not ", ["email", "has "], []),
        ("(", ["email", "in segment "], []),
        # after a complete operand: operators that fit its type
        ("age ", ["=", ">=", "between ", "in [", "is null", "is not null"],
         ["contains ", "and ", "within "]),
        ("email ", ["=", "contains ", "starts with ", "ends with ", "not in ["], ["between "]),
        ("last_order ", ["<", ">", "within ", "is null"], ["contains "]),
        ("tags ", ["contains ", "not contains "], ["=", "<"]),
        ("email_consent ", ["=", "is null"], ["<"]),
        ("count(orders) ", [">=", "between "], ["within "]),
        ("30d ", ["ago"], ["and "]),
        ("has orders ", ["where ", "within ", "and ", "or ", "followed by ", "not followed by "],
         ["="]),
        # sequences: the later stream, its fields, the earlier event's, the contact's
        ("has orders within 7d ", ["followed by ", "not followed by ", "and "], ["ago"]),
        ("has orders where amount > 5 no", ["not followed by "], []),
        ("has orders followed by ", ["orders", "email_opens"], ["email"]),
        ("has email_opens not followed by orders where ",
         ["amount", "email_opens.campaign", "age"], ["campaign"]),
        ("has orders followed by orders ", ["where ", "within ", "and "], ["followed by "]),
        ("in segment vip ", ["and ", "or "], ["within "]),
        # after a complete condition: and, or, closing brackets
        ("age > 3 ", ["and ", "or "], ["=", "between "]),
        ("(age > 3 ", ["and ", "or ", ")"], []),
        ("age between 1 ", ["and "], ["or "]),
        # streams inside aggregates and after has; `stream.field` where a field is needed
        ("count(", ["orders", "email_opens"], ["email"]),
        ("last(", ["orders", "email_opens"], []),
        ("has ", ["orders", "email_opens"], ["email", "has "]),
        ("sum(", ["orders.amount", "orders.quantity"], ["orders.category", "orders"]),
        ("sum(orders.", ["orders.amount"], []),
        ("max(", ["orders.ordered_at", "email_opens.campaign"], ["orders.gift"]),
        ("count_distinct(", ["orders.product"], []),
        # the stream's fields inside its `where`
        ("count(orders ", ["where ", "within ", ")"], ["and "]),
        # …then the contact's names (CONTRACT §5.3)
        ("count(orders where ", ["amount", "category", "ordered_at", "not ", "lower(", "email",
                                 "purchases"], ["has ", "count("]),
        ("count(orders where amount > 3 and ", ["gift", "quantity", "email"], []),
        ("count(orders where amount > ", ["quantity", "avg_order", "age"], ["email"]),
        ("count(orders where amount > 3 ", ["and ", "within ", ")"], []),
        ("last(email_opens where ", ["campaign", "at"], ["amount"]),
        ("has orders where ", ["amount", "gift", "email"], ["not "]),
        ("has orders where (amount > 3 or ", ["gift", "email"], []),
        # a bare `has … where` takes one comparison: then it is the contact again
        ("has orders where amount > 3 and ", ["email", "purchases"], ["gift"]),
        ("has orders where amount between 1 and 5 and ", ["email"], ["gift"]),
        # known values, quoted
        ("country = ", ["'DE'", "'US'"], ["email", "count("]),
        ("country != ", ["'FR'"], []),
        ("country in [", ["'DE'", "'CA'"], []),
        ("country not in ['DE', ", ["'FR'"], []),
        ("country = 'D", ["'DE'"], ["'US'"]),
        ("country = D", ["'DE'"], []),
        ("count(orders where category = ", ["'shoes'", "'bags'"], ["'DE'"]),
        ("email in [", [], ["'DE'", "email"]),
        # segmentations: a string whose values are its classes
        ("value_", ["value_class"], []),
        ("value_class = ", ["'very_good'", "'good'", "'occasional'", "'prospects'"], ["age"]),
        ("age_band in [", ["'young'", "'middle'"], []),
        # segment names
        ("in segment ", ["vip", "lapsed_vip", "buyers"], ["email"]),
        ("in segment la", ["lapsed_vip"], ["vip"]),
        # duration units after a number
        ("last_order < 30", ["30d", "30w", "30mo", "30y", "30h", "30min", "30s"], []),
        ("last_order < 30m", ["30mo", "30min"], ["30d"]),
        ("has orders within 7", ["7d", "7w"], []),
        ("age > 30", [], ["30d"]),
        ("top 10", ["10% by "], ["10d"]),
        ("top 10% ", ["by "], []),
        ("top 10% by ", ["total_spent", "count("], ["has ", "now"]),
        # values that fit the other side of a comparison
        ("signup_at > ", ["birthday", "last_order", "now", "today", "last("],
         ["email", "age", "lower("]),
        ("email_consent = ", ["true", "false"], ["age", "count("]),
        ("age between 1 and ", ["score", "purchases"], ["email"]),
        ("lower(", ["email", "`first name`"], ["has ", "not "]),
        # prefixes, quoted names
        ("pur", ["purchases"], ["email"]),
        ("fir", ["first_name", "`first name`", "first_order", "first("], []),
        ("`first n", ["`first name`"], []),
        ("age i", ["in [", "is null", "is not null"], ["="]),
        ("tags ", ["contains ", "contains any [", "contains all ["], ["starts with ", "="]),
        ("age > 3 o", ["or "], ["and "]),
        # meta-commands
        (":", [":sql", ":schema", ":segments", ":as-of", ":save", ":help", ":quit"], []),
        (":se", [":segments"], [":sql"]),
        (":sql ", ["duckdb", "postgres", "sqlite"], []),
        (":sql po", ["postgres"], ["duckdb"]),
    ],
)  # fmt: skip
def test_completion_contexts(text: str, expected: list[str], absent: list[str]) -> None:
    got = texts(text)
    for e in expected:
        assert e in got, (text, got)
    for a in absent:
        assert a not in got, (text, got)


def test_nothing_to_complete() -> None:
    assert texts("pur") == ["purchases"]
    assert texts("purchases") == []  # already complete
    assert texts("age > 3 and )") == []  # not a valid prefix
    assert texts("count(orders where amount @ ") == []  # not even lexable


def test_the_prompt_toolkit_completer() -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    completer = make_completer(SCHEMA)

    def run(text: str) -> list[Any]:
        return list(completer.get_completions(Document(text), CompleteEvent()))

    (c,) = run("age > 3 and purch")
    assert (c.text, c.start_position, c.display_text) == ("purchases", -5, "purchases")
    assert c.display_meta_text == "trait: count(orders)"
    (c,) = run("country = 'D")
    assert (c.text, c.start_position) == ("'DE'", -2)
    (c,) = run("`first n")
    assert (c.text, c.start_position, c.display_meta_text) == ("`first name`", -8, "string")
    got = {x.text: x for x in run("age ")}
    assert got["between "].display_text == "between"  # shown without the trailing space
    assert got["between "].start_position == 0


# --- highlighting --------------------------------------------------------------------


def test_highlighting_classes() -> None:
    line = "age > 30d and nmae = 'x' or count(orders) >= 1.5 # note"
    frags = highlight(line, known_names(SCHEMA))
    assert "".join(text for _, text in frags) == line
    styles = {text: style for style, text in frags if text.strip()}
    assert styles == {
        "age": "class:segql.name",
        ">": "class:segql.operator",
        "30d": "class:segql.duration",
        "and": "class:segql.keyword",
        "nmae": "class:segql.unknown",
        "=": "class:segql.operator",
        "'x'": "class:segql.string",
        "or": "class:segql.keyword",
        "count": "class:segql.function",
        "(": "class:segql.punctuation",
        "orders": "class:segql.name",
        ")": "class:segql.punctuation",
        ">=": "class:segql.operator",
        "1.5": "class:segql.number",
        "# note": "class:segql.comment",
    }


def test_highlighting_errors_and_quoted_names() -> None:
    frags = highlight("`first name` = 'unterminated")
    assert frags[0] == ("class:segql.name", "`first name`")
    assert frags[-1] == ("class:segql.error", "'unterminated")
    assert highlight("age > 3 && x")[-1] == ("class:segql.error", "&& x")
    assert highlight("") == []


def test_the_prompt_toolkit_lexer() -> None:
    from prompt_toolkit.document import Document

    lexer = make_lexer(SCHEMA)
    get_line = lexer.lex_document(Document("has orders\n  and bogus > 1"))
    assert ("class:segql.keyword", "has") in get_line(0)
    assert ("class:segql.unknown", "bogus") in get_line(1)
    assert get_line(5) == []
    meta = lexer.lex_document(Document(":sql postgres"))
    assert meta(0) == [("class:segql.keyword", ":sql postgres")]


# --- multi-line input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "more"),
    [
        ("age > 3 and", True),
        ("age > 3 or", True),
        ("(age > 3", True),
        ("country in ['DE',", True),
        ("count(orders where", True),
        ("age >", True),
        ("age between 1", True),
        ("in segment", True),
        ("age > 3 and  # a comment", True),
        ("age > 3", False),
        ("age > 3)", False),  # an error: run it and show the error
        ("age > 'open", False),
        ("", False),
        (":sql", False),
    ],
)
def test_enter_continues_unfinished_input(text: str, more: bool) -> None:
    assert needs_more(text) is more


# --- the prompt_toolkit session through a pipe ----------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07|\r")


def run_piped(
    db: Database, keys: str, tmp_path: Path, schema: Any = None, **kw: Any
) -> tuple[int, str, Path]:
    from prompt_toolkit.data_structures import Size
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output.vt100 import Vt100_Output

    buf = io.StringIO()
    output = Vt100_Output(buf, lambda: Size(rows=40, columns=120), term="xterm", enable_cpr=False)
    history = tmp_path / "history"
    with create_pipe_input() as inp:
        inp.send_text(keys)
        code = run_repl(
            schema or SCHEMA,
            db,
            as_of=AS_OF,
            input=inp,
            output=output,
            history_path=history,
            **kw,
        )
    return code, _ANSI.sub("", buf.getvalue()), history


def test_prompt_session_runs_expressions(db: Database, tmp_path: Path) -> None:
    code, screen, history = run_piped(
        db, "purchases >= 1\rage > 'x'\r:as-of 2026-01-01\r:quit\r", tmp_path
    )
    assert code == 0
    assert "segql — 16 fields, 6 traits, 2 event streams, 3 segments." in screen
    assert "4 members (66.7% of 6 contacts)" in screen
    assert "cannot compare `age` (integer) with `'x'` (string)" in screen
    assert "   1 | age > 'x'" in screen and "     |       ^~~" in screen
    assert "as of 2026-01-01 00:00:00 UTC" in screen
    assert history.read_text().count("\n+") == 4  # every input is in the history


def test_prompt_session_multi_line_input(db: Database, tmp_path: Path) -> None:
    keys = "purchases >=\r1 and\r(age < 40 or\rage is null)\rage >\r\r\x04"
    code, screen, history = run_piped(db, keys, tmp_path)
    assert code == 0
    assert "2 members (33.3% of 6 contacts)" in screen
    assert "error[syntax]" in screen  # `age >` then an empty line: run anyway
    assert "+purchases >=\n+1 and\n+(age < 40 or\n+age is null)" in history.read_text()


def test_prompt_session_ctrl_c_abandons_the_input(db: Database, tmp_path: Path) -> None:
    code, screen, _ = run_piped(db, "age >\r\x03purchases >= 1\r\x04", tmp_path)
    assert code == 0 and "4 members" in screen and "error" not in screen


def test_prompt_session_saves(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "segments.yaml"
    _, screen, _ = run_piped(
        db, "purchases >= 1\r:save piped\r:quit\r", tmp_path, fresh_schema(), catalog_path=cat
    )
    assert f"saved segment `piped` to {cat}" in screen
    assert load_catalog(cat)[0]["piped"].text == "purchases >= 1"


def test_history_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from segql.tools.repl.terminal import _history_file

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SEGQL_HISTORY", raising=False)
    assert _history_file(None) == tmp_path / ".segql_history"
    monkeypatch.setenv("SEGQL_HISTORY", str(tmp_path / "h"))
    assert _history_file(None) == tmp_path / "h"
    assert _history_file(tmp_path / "x") == tmp_path / "x"


def test_history_from_the_environment(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    monkeypatch.setenv("SEGQL_HISTORY", str(tmp_path / "env_history"))
    with create_pipe_input() as inp:
        inp.send_text("age > 1\r\x04")
        assert run_repl(SCHEMA, db, as_of=AS_OF, input=inp, output=DummyOutput()) == 0
    assert "+age > 1" in (tmp_path / "env_history").read_text()


# --- script mode ---------------------------------------------------------------------

SCRIPT = """\
purchases >= 1
# a comment

:as-of 2026-01-01
has orders within 30d
  age > 'x'
:nonsense
in segment vip
"""


def test_script_mode_with_a_text_stream(db: Database) -> None:
    out = io.StringIO()
    code = run_repl(SCHEMA, db, as_of=AS_OF, input=io.StringIO(SCRIPT), output=out)
    assert code == 1
    assert out.getvalue().splitlines() == [
        "4 members (66.7% of 6 contacts)",
        "as of 2026-01-01 00:00:00 UTC",
        "1 member (16.7% of 6 contacts)",
        "<input>:6:9: error[type-mismatch]: cannot compare `age` (integer) with `'x'` (string)",
        "   6 |   age > 'x'",
        "     |         ^~~",
        "error: unknown command `:nonsense` (commands: :sql, :schema, :segments, :as-of, "
        ":save, :explain, :pager, :help, :quit)",
        "0 members (0.0% of 6 contacts)",
    ]


def test_script_mode_succeeds_and_stops_at_quit(db: Database) -> None:
    out = io.StringIO()
    script = io.StringIO("age > 30\n:quit\nage > 'x'\n")
    assert run_repl(SCHEMA, db, as_of=AS_OF, input=script, output=out) == 0
    assert out.getvalue() == "3 members (50.0% of 6 contacts)\n"


def test_script_mode_when_stdin_is_not_a_terminal(tmp_path: Path) -> None:
    driver = write_driver(tmp_path)
    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run(
        [sys.executable, str(driver)],
        input=SCRIPT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        "4 members (66.7% of 6 contacts)",
        "as of 2026-01-01 00:00:00 UTC",
        "1 member (16.7% of 6 contacts)",
        "0 members (0.0% of 6 contacts)",
    ]
    assert r.stderr.splitlines()[:3] == [
        "<stdin>:6:9: error[type-mismatch]: cannot compare `age` (integer) with `'x'` (string)",
        "   6 |   age > 'x'",
        "     |         ^~~",
    ]
    assert "unknown command `:nonsense`" in r.stderr
    ok = subprocess.run(
        [sys.executable, str(driver)],
        input="age > 30\n:sql\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert ok.returncode == 0 and ok.stderr == ""
    assert ok.stdout.startswith("3 members (50.0% of 6 contacts)\n")


# --- issue 9: help, as_of banner, colour, interrupts, pager, new catalogs ----------------


def test_help_is_aligned() -> None:
    from segql.tools.repl.session import HELP

    lines = HELP.splitlines()
    for title in ("Keys:", "Meta-commands"):
        start = next(i for i, ln in enumerate(lines) if ln.startswith(title)) + 1
        rows = []
        for ln in lines[start:]:
            if not ln.startswith("  "):
                break
            rows.append(ln)
        # every description starts in the same column, after two spaces
        columns = {re.search(r"\S  +\S", ln).end() - 1 for ln in rows}  # type: ignore[union-attr]
        assert len(rows) > 3 and len(columns) == 1, rows
    assert "  :save NAME [description]  add the last expression" in HELP
    assert "  Ctrl-R" in HELP and ":pager [on|off]" in HELP


def test_banner_shows_the_as_of(db: Database, tmp_path: Path) -> None:
    _, screen, _ = run_piped(db, ":quit\r", tmp_path)
    assert "as of 2026-06-01 12:00:00 UTC" in screen.split("segql>")[0]
    from prompt_toolkit.data_structures import Size
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output.vt100 import Vt100_Output

    buf = io.StringIO()
    output = Vt100_Output(buf, lambda: Size(rows=40, columns=120), term="xterm", enable_cpr=False)
    with create_pipe_input() as inp:
        inp.send_text(":as-of\r:quit\r")
        run_repl(SCHEMA, db, input=inp, output=output, history_path=tmp_path / "h")
    banner, rest = _ANSI.sub("", buf.getvalue()).split("segql>", 1)
    assert "as of now: the current time (UTC) of each query; :as-of T fixes it" in banner
    assert "as of now" in rest  # :as-of says the same


def test_banner_for_a_catalog_file_that_does_not_exist_yet(db: Database, tmp_path: Path) -> None:
    cat = tmp_path / "new.yaml"
    _, screen, _ = run_piped(
        db, "age > 1\r:save grown\r:quit\r", tmp_path, fresh_schema(), catalog_path=cat
    )
    assert f"{cat} does not exist yet: :save NAME creates it" in screen
    assert f"saved segment `grown` to {cat}" in screen
    assert cat.read_text() == "segments:\n  grown:\n    where: age > 1\n"


def test_empty_no_color_does_not_disable_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    from segql.tools.repl.session import color_allowed

    monkeypatch.setenv("NO_COLOR", "")
    assert color_allowed()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_allowed()
    monkeypatch.delenv("NO_COLOR")
    assert color_allowed()


class Interrupting:
    """A Database stand-in whose next count raises ``error`` (as a cancelled query does)."""

    def __init__(self, db: Database, error: BaseException) -> None:
        self.db, self.error, self.armed = db, error, False
        self.interrupts = 0

    def count(self, *a: Any, **kw: Any) -> int:
        if self.armed:
            self.armed = False
            raise self.error
        return self.db.count(*a, **kw)

    def interrupt(self) -> None:
        self.interrupts += 1


def _interrupt_errors() -> list[BaseException]:
    import duckdb

    from segql.core.diagnostics import Diagnostic, EngineError

    engine = "DuckDB could not run the segment: INTERRUPT Error: Interrupted!"
    return [
        KeyboardInterrupt(),
        RuntimeError("Query interrupted"),
        duckdb.InterruptException("Interrupted!"),
        EngineError(Diagnostic(code="interrupted", message="the query was interrupted")),
        EngineError(Diagnostic(code="engine", message=engine)),
    ]


@pytest.mark.parametrize("error", _interrupt_errors(), ids=lambda e: type(e).__name__)
def test_an_interrupted_query_returns_to_the_prompt(
    db: Database, tmp_path: Path, error: BaseException
) -> None:
    fake = Interrupting(db, error)
    s, _ = session(fake)  # type: ignore[arg-type]
    fake.armed = True
    with pytest.raises(KeyboardInterrupt):  # the session says so; the loop prints it
        s.handle("age > 1")
    fake.armed = True
    with pytest.raises(KeyboardInterrupt):
        s.handle(":segments")
    # Through the terminal session: "interrupted", no "internal error", and on it goes.
    fake.armed = False
    keys = "age > 0\r:as-of\rage > 1\rage > 2\r:quit\r"

    class ArmOnSecond(Interrupting):
        calls = 0

        def count(self, *a: Any, **kw: Any) -> int:
            self.calls += 1
            if self.calls == 3:  # age > 0, the total, then age > 1
                raise self.error
            return self.db.count(*a, **kw)

    code, screen, _ = run_piped(ArmOnSecond(db, error), keys, tmp_path)  # type: ignore[arg-type]
    assert code == 0
    assert "interrupted" in screen and "internal error" not in screen and "error[" not in screen
    assert "members (" in screen.split("interrupted", 1)[1]  # age > 2 ran after it


def test_ctrl_c_stops_the_engine_at_once(db: Database) -> None:
    """The query runs in a worker thread; Ctrl-C in the waiting thread interrupts the
    engine instead of waiting for it to notice the signal."""
    import threading

    from segql.tools.repl.session import cancellable

    started, stop = threading.Event(), threading.Event()

    class Slow:
        interrupts = 0

        def interrupt(self) -> None:
            self.interrupts += 1
            stop.set()

    def slow_query() -> int:
        started.set()
        stop.wait(30)
        raise RuntimeError("Query interrupted")

    slow = Slow()
    import _thread

    threading.Thread(target=lambda: (started.wait(5), _thread.interrupt_main())).start()
    with pytest.raises(KeyboardInterrupt):
        cancellable(slow_query, slow)
    assert slow.interrupts >= 1
    assert cancellable(lambda: 42, slow) == 42
    with pytest.raises(ValueError, match="boom"):
        cancellable(lambda: int("boom"), slow)


def test_script_mode_stops_on_an_interrupt(db: Database) -> None:
    fake = Interrupting(db, RuntimeError("Query interrupted"))
    fake.armed = True
    with pytest.raises(KeyboardInterrupt):  # the CLI prints "interrupted", exit 130
        run_repl(
            SCHEMA, fake, as_of=AS_OF, input=io.StringIO("age > 1\nage > 2\n"), output=io.StringIO()
        )  # type: ignore[arg-type]


def test_long_output_goes_through_the_pager(db: Database) -> None:
    shown: list[str] = []

    def pager(text: str) -> bool:
        shown.append(text)
        return True

    s, out = session(db, pager=pager)
    assert s.handle(":help") and s.handle(":schema") and s.handle(":segments")
    assert s.handle("age > 1") and s.handle(":sql")
    assert len(shown) == 4 and shown[0].startswith("Type a segment")
    assert "SELECT" in shown[3] and "SELECT" not in out.getvalue()
    assert s.handle(":pager off") and "pager off" in out.getvalue()
    assert s.handle(":help") and len(shown) == 4 and "Meta-commands" in out.getvalue()
    assert s.handle(":pager on") and s.handle(":pager")
    assert out.getvalue().rstrip().endswith("pager on")
    assert not s.handle(":pager sometimes")
    plain, plain_out = session(db)  # no terminal: no pager, `:pager on` says so
    assert not plain.handle(":pager on") and "no pager here" in plain_out.getvalue()


def test_the_pager_runs_only_for_text_taller_than_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prompt_toolkit.data_structures import Size

    from segql.tools.repl.terminal import make_pager, pager_command, paging_default

    got = tmp_path / "paged.txt"
    script = tmp_path / "pager.py"
    script.write_text(f"import sys\nopen({str(got)!r}, 'w').write(sys.stdin.read())\n")
    monkeypatch.setenv("PAGER", f"{sys.executable} {script}")
    monkeypatch.delenv("SEGQL_PAGER", raising=False)

    class Out:
        def get_size(self) -> Size:
            return Size(rows=10, columns=20)

    flushed: list[bool] = []
    page = make_pager(Out(), lambda: flushed.append(True))
    assert not page("\n".join(["x"] * 9))  # 9 rows and the prompt fit in 10
    assert not got.exists()
    assert page("\n".join(["x"] * 10)) and got.read_text() == "x\n" * 10 and flushed
    assert page("y" * 200)  # one line, wrapped onto ten rows
    # Which pager: SEGQL_PAGER, PAGER, less -FRX; empty means unset; off turns it off.
    monkeypatch.setenv("SEGQL_PAGER", "most -s")
    assert pager_command() == ["most", "-s"] and paging_default()
    monkeypatch.setenv("SEGQL_PAGER", "off")
    assert pager_command() == [sys.executable, str(script)] and not paging_default()
    monkeypatch.setenv("SEGQL_PAGER", "")
    monkeypatch.setenv("PAGER", "")
    less = pager_command()
    assert less is None or less[1:] == ["-FRX"]
    monkeypatch.setenv("PAGER", "/nonexistent/pager")
    assert not page("\n".join(["x"] * 30))  # a pager that cannot start: print instead


def test_banner_counts_in_the_singular(db: Database, tmp_path: Path) -> None:
    import segql

    one = segql.load_schema(
        {
            "entity": {"table": "contacts", "key": "id", "fields": {"age": "integer"}},
            "events": {"orders": {"table": "orders", "key": "contact_id", "time": "ordered_at"}},
            "traits": {"purchases": "count(orders)"},
            "segments": {"adults": "age >= 18"},
        }
    )
    _, screen, _ = run_piped(db, ":quit\r", tmp_path, one)
    assert "segql — 1 field, 1 trait, 1 event stream, 1 segment." in screen


def test_an_engine_error_that_only_mentions_interrupts_is_an_error(db: Database) -> None:
    from segql.core.diagnostics import Diagnostic, EngineError
    from segql.tools.repl.session import is_interrupt

    odd = "DuckDB could not run the segment: Binder Error: column interrupt_count not found"
    assert not is_interrupt(EngineError(Diagnostic(code="engine", message=odd)))
    assert not is_interrupt(RuntimeError("interrupted by the user's own code"))


def test_the_connection_works_right_after_an_interrupt() -> None:
    """A cancelled DuckDB query must not leave the connection "busy with another call"
    (the worker's exception holds the cancelled result until it is collected)."""
    import _thread
    import threading

    import duckdb

    import segql
    from segql.tools.repl.session import cancellable

    schema = segql.load_schema(
        {
            "entity": {"table": "contacts", "key": "id", "fields": {"age": "integer"}},
            "events": {"orders": {"table": "orders", "key": "contact_id", "time": "at"}},
        }
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE contacts AS SELECT range AS id, range % 90 AS age FROM range(100)")
    con.execute(
        "CREATE VIEW orders AS SELECT b.range % 100 AS contact_id, TIMESTAMP '2026-01-01' AS at"
        " FROM range(1000) a, range(10000000) b"
    )
    db = Database(connection=con)
    db.count("age > 1", schema)  # checks the tables once
    threading.Timer(0.5, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        cancellable(lambda: db.count("count(orders) > 5", schema), db)
    assert db.count("age >= 80", schema) == 10


def test_function_completion_comes_from_the_function_table() -> None:
    from segql.lang.functions import FUNCTIONS

    _, cands = complete("days_s", SCHEMA)
    f = FUNCTIONS["days_since"]
    assert ("days_since(", f"{f.signature}: {f.summary}") in [(c.text, c.meta) for c in cands]
    _, cands = complete("purchases > 1 and ", SCHEMA)
    offered = {c.text[:-1] for c in cands if c.text.endswith("(")}
    assert offered == set(FUNCTIONS)
