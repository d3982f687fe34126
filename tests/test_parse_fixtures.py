"""Data-driven syntax tests: tests/fixtures/parse/{valid,invalid}.txt.

valid.txt: each case is an input, `==>`, and its canonical formatting.
invalid.txt: each case is an input, `==>`, then `code line:col-end_line:end_col message`
and any `hint: …` lines. Cases are separated by `----` lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import segql
from segql.diagnostics import render

HERE = Path(__file__).parent / "fixtures" / "parse"
LARK_NAMES = re.compile(r"\b(RPAR|LPAR|LSQB|RSQB|_AND|_OR|__ANON\w*|\$END|NAME|Token\()")


def _cases(name: str) -> list[tuple[str, str]]:
    text = (HERE / name).read_text(encoding="utf-8")
    out = []
    for block in text.split("\n----\n"):
        source, _, expected = block.partition("\n==>\n")
        out.append((source, expected.rstrip("\n")))
    return out


VALID = _cases("valid.txt")
INVALID = _cases("invalid.txt")


def test_fixture_counts() -> None:
    assert len(VALID) >= 60
    assert len(INVALID) >= 60


@pytest.mark.parametrize(("source", "expected"), VALID, ids=[s[:40] for s, _ in VALID])
def test_valid(source: str, expected: str) -> None:
    tree = segql.parse(source)
    assert segql.format(tree) == expected
    assert segql.parse(expected) == tree  # equality ignores spans
    assert segql.format(expected) == expected  # a fixed point


@pytest.mark.parametrize(("source", "expected"), INVALID, ids=[s[:40] for s, _ in INVALID])
def test_invalid(source: str, expected: str) -> None:
    with pytest.raises(segql.SegqlError) as info:
        segql.parse(source)
    d = info.value.diagnostic
    got = f"{d.code} {d.line}:{d.column}-{d.end_line}:{d.end_column} {d.message}"
    got += "".join(f"\nhint: {h}" for h in d.hints)
    assert got == expected
    assert not LARK_NAMES.search(d.message + " ".join(d.hints)), got
    text = render(d)
    assert "^" in text and text.startswith("<expr>:")
