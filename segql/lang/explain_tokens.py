"""What the syntax-error rules (explain.py) know about tokens: how to name a terminal or a
token for the user, and what the tokens before an unexpected one are in the middle of."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from segql.lang.tokens import KEYWORDS, UNITS

_TERMINAL_WORDS: dict[str, str] = {
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PERCENT": "`%`",
    "NAME": "a name",
    "QUOTED_NAME": "a name",
    "INT": "a number",
    "DECIMAL": "a number",
    "STRING": "a string",
    "DATE": "a date",
    "TIMESTAMP": "a timestamp",
    "DURATION": "a duration such as `30d`",
    "$END": "the end of the expression",
}
_VALUE_STARTS = {"NAME", "INT", "STRING"}


def _describe_token(tok: Any) -> str:
    if tok.type == "$END":
        return "the end of the expression"
    value = str(tok.value)
    if value.lower() in KEYWORDS and tok.type != "QUOTED_NAME":
        return f"the keyword `{value}`"
    return _TERMINAL_WORDS[tok.type] if tok.type in _PUNCTUATION else f"`{value}`"


_PUNCTUATION = {
    "LPAR", "RPAR", "LSQB", "RSQB", "COMMA", "DOT", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT",
}  # fmt: skip
_NAME_STARTS = {"NAME", "QUOTED_NAME"}
# Comparison and arithmetic operators.
_OPERATORS = {
    "EQUAL", "NOTEQUAL", "LESSTHAN", "LESSEQUAL", "MORETHAN", "MOREEQUAL",
    "PLUS", "MINUS", "STAR", "SLASH", "PERCENT",
}  # fmt: skip


def _is_operator(term: str) -> bool:
    return term in _OPERATORS


def _describe_expected(expected: AbstractSet[str]) -> str:
    if expected and expected <= _NAME_STARTS:
        return "a name"
    if expected & _VALUE_STARTS:
        return "a value"
    words: list[str] = []
    has_ops = any(_is_operator(e) for e in expected)
    if has_ops:
        # `in`, `is`, `between`, `contains`, ... are operators too: not listed one by one.
        words.append("an operator")
        words += [f"`{kw}`" for kw in ("and", "or") if f"_{kw.upper()}" in expected]
    for term in ("RPAR", "RSQB", "COMMA", "DURATION"):
        if term in expected:
            words.append(_TERMINAL_WORDS[term])
    if not has_ops:
        words += sorted(
            f"`{e.lstrip('_').lower()}`" for e in expected if e.lstrip("_").lower() in KEYWORDS
        )
    if "$END" in expected and not words:
        words.append("the end of the expression")
    if not words:
        return "something else"
    return " or ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " or " + words[-1]


def _unit_guess(unit: str) -> str | None:
    low = unit.lower()
    table = {
        "sec": "s", "secs": "s", "second": "s", "seconds": "s",
        "m": None, "mins": "min", "minute": "min", "minutes": "min",
        "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
        "day": "d", "days": "d", "D": "d",
        "wk": "w", "wks": "w", "week": "w", "weeks": "w",
        "mon": "mo", "mos": "mo", "month": "mo", "months": "mo", "M": "mo",
        "yr": "y", "yrs": "y", "year": "y", "years": "y",
    }  # fmt: skip
    if low in UNITS:
        return low
    return table.get(low)


def _unclosed_bracket(tokens: list[Any]) -> Any | None:
    stack: list[Any] = []
    for t in tokens:
        if t.type in ("LPAR", "LSQB"):
            stack.append(t)
        elif t.type in ("RPAR", "RSQB") and stack:
            stack.pop()
    return stack[-1] if stack else None


_CMP_VALUES = {"=", "!=", "<", "<=", ">", ">="}
_MISSPELLED_CMP = {"=>": ">=", "=<": "<=", "><": "!=", "!==": "!=", ">==": ">=", "<==": "<="}
_OPERAND_ENDS = {
    "NAME", "QUOTED_NAME", "INT", "DECIMAL", "STRING", "RPAR", "RSQB", "DURATION", "DATE",
    "TIMESTAMP", "NOW", "TODAY", "TRUE", "FALSE", "NULL", "AGO",
}  # fmt: skip
_AFTER_KEYWORD = {
    "IN": "a list such as `['a', 'b']`",
    "HAS": "an event stream name such as `orders`",
    "TOP": "a percentage such as `10%`",
    "SEGMENT": "a segment name",
    "_IS": "`null` or `not null`",
    "_STARTS": "`with`",
    "_ENDS": "`with`",
    "_WITHIN": "a duration such as `30d`",
}


def _level(tokens: list[Any]) -> Iterator[tuple[int, Any]]:
    """The tokens (with their index) at the bracket level the tokens end at, newest first,
    up to the bracket that opens that level; bracketed groups skipped."""
    depth = 0
    for i in range(len(tokens) - 1, -1, -1):
        t = tokens[i]
        if t.type in ("RPAR", "RSQB"):
            depth += 1
        elif t.type in ("LPAR", "LSQB"):
            if depth == 0:
                return
            depth -= 1
        elif depth == 0:
            yield i, t


def _open_between(tokens: list[Any]) -> bool:
    """Whether the tokens end inside `x between low` (before its `and`)."""
    for _, t in _level(tokens):
        if t.type in ("_AND", "_OR", "NOT"):
            return False
        if t.type == "_BETWEEN":
            return True
    return False


def _in_comparison(tokens: list[Any]) -> bool:
    """Whether the current predicate (since the last and/or/not/bracket) has an operator."""
    for _, t in _level(tokens):
        if str(t.value).lower() in ("and", "or", "not", "where") and t.type != "QUOTED_NAME":
            return False
        if t.value in _CMP_VALUES:
            return True
    return False
