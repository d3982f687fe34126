"""Data-driven tests of the language core: tests/fixtures/syntax/{valid,invalid}.test
(the format of tests/fixture_cases.py). In an input, ``{{'text' * N}}`` stands for
``text`` repeated N times, which is how NUL, CRLF, lone surrogates and 10,000-character
inputs are written.

valid.test: the input, ``[out]`` its canonical formatting, optionally ``[tree]`` the tree
as an s-expression (independent of the formatter).

invalid.test: the input, then ``[out]``::

    <code> <line>:<column>-<end line>:<end column>
    <the message, exactly>
    hint: <a substring of one of the hints>     (zero or more)
    no hints                                     (or: asserts there are none)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fixture_cases import Case, load

import segql
from segql.core.diagnostics import render
from segql.lang import ast as a
from segql.lang.tokens import needs_quotes

# Lark's vocabulary must never reach a user.
LARK_WORDS = re.compile(
    r"RPAR|LPAR|LSQB|RSQB|_AND\b|_OR\b|__ANON|\$END|\bNAME\b|QUOTED_NAME|Token\(|Tree\("
    r"|\bINT\b|\bSTRING\b|\bDURATION\b|UnexpectedToken|UnexpectedCharacters"
)
VALID = load("syntax/valid.test", sections=("out", "tree"))
INVALID = load("syntax/invalid.test")


# --- an s-expression view of a tree, independent of the formatter ----------------------


def _name(part: str) -> str:
    return "`" + part.replace("`", "``") + "`" if needs_quotes(part) else part


def sexpr(e: a.Expr) -> str:
    def sx(*parts: object) -> str:
        return "(" + " ".join(str(p) for p in parts if p != "") + ")"

    def opt(key: str, value: a.Expr | None) -> str:
        return "" if value is None else f":{key} {sexpr(value)}"

    match e:
        case a.IntLit(value=v):
            return str(v)
        case a.DecimalLit(value=v):
            return str(v)
        case a.StringLit(value=v):
            return json.dumps(v, ensure_ascii=False)
        case a.BoolLit(value=v):
            return "true" if v else "false"
        case a.NullLit():
            return "null"
        case a.DateLit(value=v):
            return sx("date", v.isoformat())
        case a.TimestampLit(value=v):
            return sx("timestamp", v.isoformat())
        case a.DurationLit(amount=n, unit=u):
            return f"{n}{u.value}"
        case a.ListLit(items=items):
            return "[" + " ".join(sexpr(i) for i in items) + "]"
        case a.Name(parts=parts):
            return ".".join(_name(p) for p in parts)
        case a.Now():
            return "now"
        case a.Today():
            return "today"
        case a.Ago(duration=d):
            return sx("ago", sexpr(d))
        case a.Neg(operand=o):
            return sx("neg", sexpr(o))
        case a.Not(operand=o):
            return sx("not", sexpr(o))
        case a.Arith(op=op, left=x, right=y) | a.Compare(op=op, left=x, right=y):
            return sx(op.value, sexpr(x), sexpr(y))
        case a.Match(op=op, left=x, right=y):
            return sx(op.value.replace(" ", "-"), sexpr(x), sexpr(y))
        case a.BoolOp(op=op, operands=ops):
            return sx(op.value, *(sexpr(o) for o in ops))
        case a.Between(operand=o, low=lo, high=hi):
            return sx("between", sexpr(o), sexpr(lo), sexpr(hi))
        case a.InList(operand=o, items=items, negated=neg):
            return sx("not-in" if neg else "in", sexpr(o), sexpr(a.ListLit(items=items)))
        case a.IsNull(operand=o, negated=neg):
            return sx("is-not-null" if neg else "is-null", sexpr(o))
        case a.Within(operand=o, duration=d):
            return sx("within", sexpr(o), sexpr(d))
        case a.Call(func=f, args=args):
            return sx("call", f, *(sexpr(x) for x in args))
        case a.Aggregate(func=f, target=t, where=w, within=d):
            return sx(f, sexpr(t), opt("where", w), opt("within", d))
        case a.Has(stream=s, where=w, within=d):
            return sx("has", sexpr(s), opt("where", w), opt("within", d))
        case a.InSegment(name=n):
            return sx("segment", _name(n))
        case a.Top(percent=p, by=b):
            return sx("top", sexpr(p), sexpr(b))
    raise AssertionError(f"unknown node {e!r}")


# --- the tests --------------------------------------------------------------------------


def test_fixture_files_are_big_enough() -> None:
    assert len(VALID) >= 70
    assert len(INVALID) >= 70
    assert len({c.source for c in VALID}) == len(VALID), "duplicate valid inputs"
    assert len({c.source for c in INVALID}) == len(INVALID), "duplicate invalid inputs"


@pytest.mark.parametrize("case", VALID, ids=[c.name for c in VALID])
def test_valid(case: Case) -> None:
    expected = case.sections["out"]
    tree = segql.parse(case.source)
    assert segql.format(tree) == expected
    # The canonical text is a fixed point and means the same tree (equality ignores spans).
    again = segql.parse(expected)
    assert again == tree
    assert segql.format(again) == expected
    assert segql.format(expected) == expected
    if "tree" in case.sections:
        assert sexpr(tree) == case.sections["tree"].strip()


@pytest.mark.parametrize("case", INVALID, ids=[c.name for c in INVALID])
def test_invalid(case: Case) -> None:
    head, message, *rest = case.sections["out"].split("\n")
    code, _, where = head.partition(" ")
    with pytest.raises(segql.SegqlError) as info:
        segql.parse(case.source)
    d = info.value.diagnostic
    got = f"{d.code} {d.line}:{d.column}-{d.end_line}:{d.end_column}"
    assert (got, d.message) == (f"{code} {where}", message)
    for line in rest:
        if line == "no hints":
            assert d.hints == ()
        else:
            assert line.startswith("hint: "), f"bad fixture line {line!r}"
            want = line.removeprefix("hint: ")
            assert any(want in h for h in d.hints), (want, d.hints)
    # Every diagnostic speaks segql and renders with a caret under the problem.
    for diag in info.value.diagnostics:
        words = " ".join((diag.message, *diag.hints))
        assert not LARK_WORDS.search(words), words
        assert 0 <= diag.start <= diag.end <= len(case.source)
        text = render(diag)
        assert text.startswith(f"<expr>:{diag.line}:{diag.column}: error[{diag.code}]: ")
        assert "^" in text.split("\n")[2]
    assert isinstance(info.value, segql.SyntaxErrorDiagnostic)
    assert isinstance(info.value, segql.LimitError) == (code == "limit-exceeded")


def test_the_fixture_loader_refuses_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fixture_cases

    monkeypatch.setattr(fixture_cases, "FIXTURES", tmp_path)
    (tmp_path / "a.test").write_text("[case x]\n1\n[out]\n1\n[case x]\n2\n[out]\n2\n")
    with pytest.raises(ValueError, match="a second case named `x`"):
        load("a.test")
    (tmp_path / "b.test").write_text("[case y]\n1\n[tree]\n1\n")
    with pytest.raises(ValueError, match="unknown section"):
        load("b.test")
    (tmp_path / "c.test").write_text("[case Has Spaces]\n1\n")
    with pytest.raises(ValueError, match="lower case"):
        load("c.test")
    (tmp_path / "d.test").write_text("about\n[case z]\na\n\n[out]\nb\n\n-- a comment\n")
    (case,) = load("d.test")
    assert (case.name, case.line, case.raw, case.sections) == ("z", 2, "a", {"out": "b"})
    (tmp_path / "e.test").write_text("[case w]\n1\n[out]\n1\n[out]\n2\n")
    with pytest.raises(ValueError, match=r"a second \[out\] in `w`"):
        load("e.test")
    (tmp_path / "f.test").write_text("[case v]\n1\n[tree]\n(1)\n")
    with pytest.raises(ValueError, match=r"f.test:1: `v` has no \[out\]"):
        load("f.test", sections=("out", "tree"))
    (case,) = load("f.test", sections=("out", "tree"), required=())
    assert case.sections == {"tree": "(1)"}
