"""Diagnostic codes are registered once (segql/core/codes.py): every code the source
reports is registered, every registered code is reported somewhere, and
docs/diagnostics.md is the registry's table."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from segql.core.codes import CODES, markdown
from segql.core.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "segql").rglob("*.py"))


def _emitters(trees: dict[Path, ast.Module]) -> dict[str, set[int | None]]:
    """Functions with a ``code`` parameter: name -> positions of that parameter."""
    found: dict[str, set[int | None]] = defaultdict(set)
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args]
                if "code" in names:
                    offset = 1 if names[0] in ("self", "cls") else 0
                    found[node.name].add(names.index("code") - offset)
                else:
                    found[node.name].add(None)
    return found


def _literal_codes(arg: ast.expr) -> list[str]:
    """The codes an argument can be: a string, or every registered code an f-string such as
    ``f"broken-{kind}"`` can produce (at least one must exist)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.JoinedStr):
        parts = [
            re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z-]+" for v in arg.values
        ]
        pattern = re.compile("".join(parts))
        return [c for c in CODES if pattern.fullmatch(c)] or [ast.unparse(arg)]
    return []


def _codes_used() -> dict[str, set[str]]:
    """Every literal passed as a diagnostic code: ``code="…"`` anywhere, or the ``code``
    argument of a function whose every definition takes it at that position."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in SOURCES}
    emitters = {k: v.pop() for k, v in _emitters(trees).items() if len(v) == 1}
    used: dict[str, set[str]] = defaultdict(set)
    for path, tree in trees.items():
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "code":
                    for code in _literal_codes(kw.value):
                        used[code].add(where)
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            pos = emitters.get(name) if name else None
            if pos is not None and len(node.args) > pos:
                for code in _literal_codes(node.args[pos]):
                    used[code].add(where)
    return used


def test_every_reported_code_is_registered() -> None:
    used = _codes_used()
    assert {c: sorted(w) for c, w in used.items() if c not in CODES} == {}


def test_every_registered_code_is_reported_somewhere() -> None:
    assert sorted(set(CODES) - set(_codes_used())) == []


def test_an_unregistered_code_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="unregistered diagnostic code 'no-such-code'"):
        Diagnostic(code="no-such-code", message="x")


def test_codes_are_kebab_case_with_a_one_line_summary() -> None:
    for code, entry in CODES.items():
        assert code == entry.code
        assert code.replace("-", "").isalpha() and code.islower(), code
        assert entry.summary and "\n" not in entry.summary and entry.stages, code


def test_docs_table_is_the_registry() -> None:
    page = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert markdown() in page, "paste segql.core.codes.markdown() into the page"
