"""The parser's view of a prefix of the input: which terminals may come next.

Completion, highlighting and Enter-continues-the-line ask the grammar here, so only this
module talks to the parser about unfinished input.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["accepts", "lex_all", "needs_more", "replay", "terms"]


@functools.cache
def _lalr() -> tuple[Any, Any, Any, Any] | None:
    """(states, start, end, Shift) of the grammar's LALR table, or None if unavailable."""
    try:
        from lark.parsers.lalr_analysis import Shift

        from segql.lang.parser import _parser

        table = _parser().parser.parser._parse_table
        return table.states, table.start_states["start"], table.end_states["start"], Shift
    except Exception:  # pragma: no cover - a lark without these internals
        return None


def _feed(stack: list[Any], term: str) -> list[Any] | None:
    """The parser stack after shifting ``term`` (reducing as needed), or None if refused."""
    info = _lalr()
    if info is None:
        return None
    states, _, end, shift = info
    st = list(stack)
    while True:
        act = states[st[-1]].get(term)
        if act is None:
            return None
        action, arg = act
        if action is shift:
            st.append(arg)
            return st
        size = len(arg.expansion)
        if size:
            del st[-size:]
        st.append(states[st[-1]][arg.origin.name][1])
        if term == "$END" and st[-1] == end:
            return st


def replay(tokens: Sequence[Any]) -> list[Any] | None:
    """The parser stack after ``tokens``, or None when they are not a valid prefix."""
    info = _lalr()
    if info is None:
        return None
    stack: list[Any] | None = [info[1]]
    for tok in tokens:
        assert stack is not None
        stack = _feed(stack, tok.type)
        if stack is None:
            return None
    return stack


def accepts(stack: list[Any], terms: Sequence[str]) -> bool:
    st: list[Any] | None = stack
    for term in terms:
        if st is None:
            return False
        st = _feed(st, term)
    return st is not None


@functools.cache
def terms(phrase: str) -> tuple[str, ...]:
    from segql.lang.parser import _lex

    return tuple(t.type for t in _lex(phrase))


def lex_all(text: str) -> tuple[list[Any], int | None]:
    """(tokens, position of the first character the lexer refuses or None)."""
    from segql.lang.parser import _lex, _LexFail

    out: list[Any] = []
    try:
        for tok in _lex(text):
            out.append(tok)
    except _LexFail as e:
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
    if _lalr() is not None:
        stack = replay(toks)
        return stack is not None and _feed(stack, "$END") is None
    depth = 0  # pragma: no cover - fallback without the parse table
    for t in toks:  # pragma: no cover
        depth += {"LPAR": 1, "LSQB": 1, "RPAR": -1, "RSQB": -1}.get(t.type, 0)
    last = str(toks[-1].value).lower()  # pragma: no cover
    return depth > 0 or last in ("and", "or", "not", "=", "!=", "<", "<=", ">", ">=", "+", "-")
