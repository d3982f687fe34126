"""The parser's view of a prefix of the input: which terminals may come next.

Completion, highlighting and Enter-continues-the-line ask the grammar here, through
:class:`segql.lang.parser.Prefix` (Lark's public interactive parser), so only this module
talks to the parser about unfinished input.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from segql.lang.tokens import END, LexFail

__all__ = ["accepts", "lex_all", "needs_more", "replay", "terms"]


def replay(tokens: Sequence[Any]) -> Any | None:
    """The parser after ``tokens`` (a :class:`~segql.lang.parser.Prefix`), or None when
    they are not a valid prefix."""
    from segql.lang.parser import Prefix

    return Prefix.of(tokens)


def accepts(prefix: Any, terms: Sequence[str]) -> bool:
    """Whether the terminals ``terms`` may follow ``prefix``."""
    return prefix is not None and prefix.feed_all(terms) is not None


@functools.cache
def terms(phrase: str) -> tuple[str, ...]:
    from segql.lang.parser import lex

    return tuple(t.type for t in lex(phrase))


def lex_all(text: str) -> tuple[list[Any], int | None]:
    """(tokens, position of the first character the lexer refuses or None)."""
    from segql.lang.parser import lex

    out: list[Any] = []
    try:
        for tok in lex(text):
            out.append(tok)
    except LexFail as e:
        return out, e.pos
    return out, None


def needs_more(text: str) -> bool:
    """Whether Enter should continue the input on a new line: the text so far is a valid
    but unfinished expression (open brackets, a trailing `and`, `or`, operator, …)."""
    if not text.strip() or text.lstrip().startswith(":"):
        return False
    toks, fail = lex_all(text)
    if fail is not None or not toks:
        return False
    prefix = replay(toks)
    return prefix is not None and prefix.feed(END) is None
