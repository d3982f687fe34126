"""Diagnostics as data: every user-facing problem is a :class:`Diagnostic`.

Exceptions only carry diagnostics (:class:`SegqlError`); they are raised once, at the
boundary of a public function, with every problem found so far.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CheckError",
    "Diagnostic",
    "EngineError",
    "Interrupted",
    "LimitError",
    "SchemaError",
    "SegqlError",
    "Severity",
    "Span",
    "SyntaxErrorDiagnostic",
    "render",
    "render_all",
    "span_at",
    "with_source",
]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """A region of source text. Lines and columns are 1-based; ``end_column`` is exclusive."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    def to_dict(self) -> dict[str, int]:
        return {
            "start": self.start,
            "end": self.end,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }

    def cover(self, other: Span) -> Span:
        """The smallest span covering both."""
        first = self if self.start <= other.start else other
        last = self if self.end >= other.end else other
        return Span(
            start=first.start,
            end=last.end,
            line=first.line,
            column=first.column,
            end_line=last.end_line,
            end_column=last.end_column,
        )

    def shifted(self, base: Span | None) -> Span:
        """Re-base a span measured inside an embedded snippet onto its host file.

        ``base`` is the position of the snippet's first character in the host; columns on
        the snippet's first line are offset by the host column, later lines keep theirs.
        """
        if base is None:
            return self
        col = self.column + base.column - 1 if self.line == 1 else self.column
        end_col = self.end_column + base.column - 1 if self.end_line == 1 else self.end_column
        return Span(
            start=self.start + base.start,
            end=self.end + base.start,
            line=self.line + base.line - 1,
            column=col,
            end_line=self.end_line + base.line - 1,
            end_column=end_col,
        )


NO_SPAN = Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1)


def span_at(text: str, start: int, end: int | None = None) -> Span:
    """Build a span for ``text[start:end]`` by counting lines."""
    start = max(0, min(start, len(text)))
    end = start if end is None else max(start, min(end, len(text)))
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    end_line = line + text.count("\n", start, end)
    end_col = end - (text.rfind("\n", 0, end) + 1) + 1
    return Span(start=start, end=end, line=line, column=col, end_line=end_line, end_column=end_col)


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem, positioned in a source. ``file`` is None for inline expressions."""

    code: str
    message: str
    severity: Severity = Severity.ERROR
    span: Span = NO_SPAN
    hints: tuple[str, ...] = ()
    file: str | None = None
    source: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        from segql.core.codes import CODES  # loaded with the first diagnostic, not at import

        if self.code not in CODES:  # a programming error: register it in segql/core/codes.py
            raise ValueError(f"unregistered diagnostic code {self.code!r}")

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def column(self) -> int:
        return self.span.column

    @property
    def end_line(self) -> int:
        return self.span.end_line

    @property
    def end_column(self) -> int:
        return self.span.end_column

    @property
    def start(self) -> int:
        return self.span.start

    @property
    def end(self) -> int:
        return self.span.end

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "hints": list(self.hints),
            "file": self.file,
            **self.span.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def with_location(
        self, *, file: str | None, source: str | None, base: Span | None = None
    ) -> Diagnostic:
        """Attach (or move) this diagnostic to a host file, shifting by ``base``."""
        return dataclasses.replace(self, span=self.span.shifted(base), file=file, source=source)

    def __str__(self) -> str:
        return render(self)


class SegqlError(Exception):
    """Base of every error segql raises for user input; carries ``diagnostics``."""

    def __init__(self, diagnostics: Sequence[Diagnostic] | Diagnostic) -> None:
        diags = (diagnostics,) if isinstance(diagnostics, Diagnostic) else tuple(diagnostics)
        if not diags:
            diags = (Diagnostic(code="internal", message="unknown error"),)
        self.diagnostics: tuple[Diagnostic, ...] = diags
        super().__init__(render_all(diags))

    @property
    def diagnostic(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def code(self) -> str:
        return self.diagnostics[0].code

    def to_json(self) -> str:
        return json.dumps([d.to_dict() for d in self.diagnostics], ensure_ascii=False)


class SyntaxErrorDiagnostic(SegqlError):
    """The text is not a well-formed segql expression."""


class CheckError(SegqlError):
    """The expression is well-formed but does not type-check against the schema."""


class LimitError(SyntaxErrorDiagnostic, CheckError):
    """The input exceeds a configured limit (``segql.Limits``). Also a ``CheckError``:
    a limit found while checking is one, and code catching either keeps working."""


class SchemaError(SegqlError):
    """A schema or catalog file is invalid."""


class EngineError(SegqlError):
    """The database engine failed or the data does not match the schema."""


class Interrupted(EngineError, KeyboardInterrupt):
    """A query was cancelled (Ctrl-C, or ``Database.interrupt``). Also a
    ``KeyboardInterrupt``, so a program's own Ctrl-C handling keeps working."""


def _line_of(source: str, line: int) -> str:
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return ""


def render(diag: Diagnostic, *, color: bool = False) -> str:
    """``file:line:col: severity[code]: message``, the source line, a ``^~~~`` marker, hints.

    A problem that is not in any text (a missing database, an unknown dialect) has no
    position, and one in a file but at no particular place shows only the file."""
    where = _where(diag)
    sev = str(diag.severity)
    message = _printable(diag.message)
    if color:
        tint = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m"}[sev]
        place = f"\x1b[1m{where}:\x1b[0m " if where else ""
        head = f"{place}{tint}{sev}[{diag.code}]:\x1b[0m \x1b[1m{message}\x1b[0m"
    else:
        head = f"{where}: " if where else ""
        head += f"{sev}[{diag.code}]: {message}"
    out = [head]
    if diag.source is not None:
        text = _printable(_line_of(diag.source, diag.line).replace("\t", " "))
        start = max(1, diag.column) - 1
        if diag.end_line == diag.line:
            end = max(start + 1, diag.end_column - 1)
        else:
            end = max(start + 1, len(text))
        shown, marker = _excerpt(text, start, end)
        gutter = f"{diag.line:>4} | "
        out.append(gutter + shown)
        pad = " " * (len(gutter) - 2) + "| "
        out.append(pad + (f"\x1b[1;32m{marker}\x1b[0m" if color else marker))
    for hint in diag.hints:
        out.append(f"  hint: {_printable(hint)}")
    return "\n".join(out)


def _where(diag: Diagnostic) -> str | None:
    if diag.source is None and diag.span == NO_SPAN:
        return diag.file  # nowhere in particular (in that file)
    return f"{diag.file or '<expr>'}:{diag.line}:{diag.column}"


SHOWN_COLUMNS = 100  # of a long source line, the part around the problem that is shown


def _cells(text: str) -> int:
    """Terminal columns: East Asian wide and fullwidth characters take two; combining
    marks, format characters, variation selectors and skin-tone modifiers none; a
    character joined to the one before by a zero-width joiner (emoji sequences) none."""
    import unicodedata

    n = 0
    joined = False
    for ch in text:
        if ch.isascii():
            n += 1
            joined = False
            continue
        cp = ord(ch)
        if ch == "\u200d":
            joined = True
            continue
        if joined:
            joined = False
            continue
        if (
            unicodedata.combining(ch)
            or unicodedata.category(ch) in ("Mn", "Me", "Cf")
            or 0xFE00 <= cp <= 0xFE0F
            or 0x1F3FB <= cp <= 0x1F3FF
        ):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return n


def _excerpt(text: str, start: int, end: int) -> tuple[str, str]:
    """The line (or a window of it around ``start``, with ``…`` where it is cut) and the
    ``^~~~`` marker under characters ``start:end``, aligned in terminal columns."""
    left, right = 0, len(text)
    if _cells(text) > SHOWN_COLUMNS:
        left = max(0, start - 20)
        right = left
        budget = SHOWN_COLUMNS - 2
        while right < len(text) and _cells(text[left : right + 1]) <= budget:
            right += 1
    head = "…" if left > 0 else ""
    tail = "…" if right < len(text) else ""
    shown = head + text[left:right] + tail
    lead = _cells(head + text[left:start]) if start <= right else _cells(shown)
    covered = text[start : min(end, right)]
    width = max(1, _cells(covered))
    return shown, " " * lead + "^" + "~" * (width - 1)


# Bidirectional controls can make a line read differently from what runs ("Trojan Source").
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def _printable(text: str) -> str:
    """The text as it may be echoed to a terminal: control characters, bidirectional
    controls and lone surrogates become U+FFFD; joiners and other invisible format
    characters stay (emoji sequences print whole)."""
    import unicodedata

    out = []
    for ch in text:
        if (
            ch == " "
            or (ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF)
            or (unicodedata.category(ch) == "Cf" and ord(ch) not in _BIDI)
        ):
            out.append(ch)
        else:
            out.append("\ufffd")
    return "".join(out)


def render_all(diags: Iterable[Diagnostic], *, color: bool = False) -> str:
    return "\n".join(render(d, color=color) for d in diags)


def with_source(diags: Iterable[Diagnostic], text: str) -> list[Diagnostic]:
    """Attach the expression ``text`` to diagnostics positioned in it (found after the
    checker, e.g. a time out of range at compile or evaluation time); problems of the
    input itself (no span) stay unplaced rather than pointing at 1:1."""
    return [
        dataclasses.replace(d, source=text)
        if d.source is None and d.file is None and d.span.end > d.span.start
        else d
        for d in diags
    ]


def relocate(
    diag: Diagnostic,
    *,
    file: str | None,
    text: str | None,
    offsets: Sequence[int] | None,
) -> Diagnostic:
    """Move a diagnostic measured in an embedded expression into its host file.

    ``offsets[i]`` is the file offset of the expression's character ``i`` (so block
    strings, escapes and indentation map exactly). Without offsets or text, only the file
    name is attached."""
    if text is None or not offsets:
        return dataclasses.replace(diag, file=file if file is not None else diag.file)
    n = len(offsets)

    def at(i: int) -> int:
        if i < n:
            return offsets[i]
        return offsets[-1] + 1 + (i - n)

    start = at(diag.span.start)
    end = at(diag.span.end - 1) + 1 if diag.span.end > diag.span.start else start
    return dataclasses.replace(diag, span=span_at(text, start, end), file=file, source=text)
