"""The lexer Lark drives for segql's grammar (kept in its own module so that Lark can
pickle a reference to it in the parser cache; imported only when a parser is built)."""

from __future__ import annotations

import re
from typing import Any

from lark.lexer import Lexer, PatternStr, Token

from segql.lang.tokens import LexFail

__all__ = ["SegqlLexer"]


class SegqlLexer(Lexer):
    """A fast lexer built from the grammar's own terminal definitions.

    Lark's generic lexer costs more than the parser on typical input; this one uses one
    compiled pattern with named groups and looks words up in the keyword table, which also
    makes keywords case-insensitive without letting them swallow longer names."""

    def __init__(self, conf: Any) -> None:
        regexes: list[tuple[int, int, str, str]] = []
        strings: list[tuple[str, str]] = []
        self.keywords: dict[str, str] = {}
        ignore = set(conf.ignore)
        for order, term in enumerate(conf.terminals):
            pat = term.pattern
            if isinstance(pat, PatternStr):
                if pat.value.isalpha():
                    self.keywords[pat.value.lower()] = term.name
                else:
                    strings.append((term.name, pat.value))
            else:
                regexes.append((-term.priority, order, term.name, pat.to_regexp()))
        regexes.sort()
        parts = [f"(?P<{name}>{rx})" for _, _, name, rx in regexes]
        # A date-like run that is neither a date nor a timestamp: refuse it as a whole.
        parts.insert(
            next(i for i, (_, _, n, _) in enumerate(regexes) if n == "DURATION"),
            r"(?P<_BADDATE>\d{4}-\d{2}-\d{2}[T:\d]*)",
        )
        strings.sort(key=lambda x: -len(x[1]))
        parts += [f"(?P<{name}>{re.escape(value)})" for name, value in strings]
        self.pattern = re.compile("|".join(parts))
        self.ignore = ignore
        # `followed` before `by`, and `not` before those two (spaces and comments between):
        # the tokens of the grammar's `followed` rule.
        gap = r"(?:\s|#[^\n]*)+"
        self.by = re.compile(gap + r"by(?![A-Za-z0-9_])", re.IGNORECASE)
        self.followed = re.compile(
            gap + r"followed(?![A-Za-z0-9_])(?=" + gap + r"by(?![A-Za-z0-9_]))", re.IGNORECASE
        )

    def lex(self, text: str) -> Any:  # type: ignore[override]  # lark interface 0
        match = self.pattern.match
        keywords = self.keywords
        ignore = self.ignore
        pos = 0
        n = len(text)
        line = 1
        line_start = 0
        while pos < n:
            m = match(text, pos)
            if m is None:
                raise LexFail(pos)
            kind = str(m.lastgroup)
            end = m.end()
            if kind in ignore:
                nl = text.count("\n", pos, end)
                if nl:
                    line += nl
                    line_start = text.rfind("\n", pos, end) + 1
                pos = end
                continue
            if kind == "_BADDATE":
                raise LexFail(pos)
            value = m.group()
            if kind == "NAME":
                lower = value.lower()
                kind = keywords.get(lower, "NAME")
                if kind == "NOT" and (more := self.followed.match(text, end)) is not None:
                    kind, end = "NOT_FOLLOWED", more.end()
                    value = text[pos:end]
                elif lower == "followed" and self.by.match(text, end) is not None:
                    kind = "FOLLOWED"
            col = pos - line_start + 1
            nl = text.count("\n", pos, end)
            if nl:  # only a joined `not … followed` spans lines
                end_line = line + nl
                end_col = end - text.rfind("\n", pos, end)
                yield Token(kind, value, pos, line, col, end_line, end_col, end)
                line, line_start = end_line, text.rfind("\n", pos, end) + 1
            else:
                yield Token(kind, value, pos, line, col, line, col + end - pos, end)
            pos = end
