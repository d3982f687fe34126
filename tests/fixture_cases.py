"""The one format of segql's data-driven tests (tests/fixtures/**/*.test), in the style of
mypy's test data:

    any text before the first case (a description of the file)
    -- a comment line, anywhere (also between and inside cases)
    [case a-unique-name]
    the input, any number of lines
    [out]
    the expected output (sections are named by the test that reads the file)
    [tree]
    …

A case ends where the next begins. Blank lines at the end of the input and of each
section are dropped. `{{'s' * N}}` in an input is a Python string literal repeated N times
(for inputs too long to write out). The loader refuses, with the file and line, a case
name given twice, a section the test does not know, a section given twice and a case
without a required section. See tests/fixtures/README.md.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
_CASE = re.compile(r"\[case ([a-z0-9][a-z0-9_.:-]*)\]\Z")
_SECTION = re.compile(r"\[([a-z]+)\]\Z")
_MACRO = re.compile(
    r"\{\{\s*((?:'(?:[^'\\]|\\.)*')|(?:\"(?:[^\"\\]|\\.)*\"))\s*(?:\*\s*(\d+))?\s*\}\}"
)


@dataclass(frozen=True)
class Case:
    name: str
    file: str
    line: int  # of its `[case …]` header
    raw: str  # the input as written
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The input with its macros expanded."""
        return expand(self.raw)


def expand(text: str) -> str:
    """Replace ``{{'s' * N}}`` macros by their value."""
    return _MACRO.sub(lambda m: ast.literal_eval(m.group(1)) * int(m.group(2) or 1), text)


def _strip(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def load(
    relative: str,
    *,
    sections: tuple[str, ...] = ("out",),
    required: tuple[str, ...] | None = None,
) -> list[Case]:
    """The cases of ``tests/fixtures/<relative>``: ``sections`` are the names allowed,
    ``required`` those every case must have (by default the first of ``sections``)."""
    if required is None:
        required = sections[:1]
    path = FIXTURES / relative
    cases: list[Case] = []
    names: set[str] = set()
    current: tuple[str, int] | None = None
    parts: dict[str, list[str]] = {}
    part = ""

    def close() -> None:
        if current is None:
            return
        name, line = current
        body = {k: _strip(v) for k, v in parts.items()}
        raw = body.pop("")  # may be empty: the parser's "nothing to parse" cases
        missing = [f"[{s}]" for s in required if s not in body]
        if missing:
            raise ValueError(f"{relative}:{line}: `{name}` has no {', '.join(missing)}")
        cases.append(Case(name=name, file=relative, line=line, raw=raw, sections=body))

    for number, text in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if text.startswith("--"):
            continue  # a comment (no input or output line of segql's starts with `--`)
        head = _CASE.match(text)
        if head is not None or text.startswith("[case"):
            if head is None:
                raise ValueError(f"{relative}:{number}: a case name is lower case, no spaces")
            close()
            name = head.group(1)
            if name in names:
                raise ValueError(f"{relative}:{number}: a second case named `{name}`")
            names.add(name)
            current, parts, part = (name, number), {"": []}, ""
            continue
        if current is None:
            continue  # the file's description
        sec = _SECTION.match(text)
        if sec is not None:
            part = sec.group(1)
            if part not in sections:
                raise ValueError(f"{relative}:{number}: unknown section [{part}]")
            if part in parts:
                raise ValueError(f"{relative}:{number}: a second [{part}] in `{current[0]}`")
            parts[part] = []
            continue
        parts[part].append(text)
    close()
    return cases
