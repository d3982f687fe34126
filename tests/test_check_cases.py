"""Checker cases in the style of mypy's test data: tests/fixtures/check/*.test (the
format of tests/fixture_cases.py).

Each case is ``[case NAME]`` (the test id, unique across the files), the expression,
``[out]`` and the expected diagnostics, one per line as
``line:col-end_line:end_col severity code: message`` followed by ``  hint: …``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_cases import load
from shop_schema import shop_schema

from segql.checker import check
from segql.core.diagnostics import render

FIXTURES = Path(__file__).parent / "fixtures" / "check"


def _cases() -> list[tuple[str, str, list[str]]]:
    out = []
    for path in sorted(FIXTURES.glob("*.test")):
        for case in load(f"check/{path.name}"):
            lines = [ln for ln in case.sections.get("out", "").splitlines() if ln.strip()]
            out.append((case.name, case.raw, lines))
    names = [name for name, _, _ in out]
    assert len(set(names)) == len(names), "a case name used in two files"
    return out


CASES = _cases()


def _actual(source: str) -> list[str]:
    lines = []
    for d in check(source, SCHEMA):
        lines.append(
            f"{d.line}:{d.column}-{d.end_line}:{d.end_column} {d.severity} {d.code}: {d.message}"
        )
        lines += [f"  hint: {h}" for h in d.hints]
    return lines


SCHEMA = shop_schema()


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 80
    assert sum(1 for _, _, exp in CASES if exp) >= 60


@pytest.mark.parametrize(("name", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_case(name: str, source: str, expected: list[str]) -> None:
    assert _actual(source) == expected


@pytest.mark.parametrize(("name", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_diagnostics_render_with_caret(name: str, source: str, expected: list[str]) -> None:
    for d in check(source, SCHEMA):
        text = render(d)
        assert "^" in text, text
        assert d.source == source
