"""The grammar's vocabulary: its terminals (one enum, checked against segql.lark by a
test), keywords and duration units, and the grammar text itself (package data)."""

from __future__ import annotations

import enum
import re
from importlib import resources

from segql.lang import ast as a

__all__ = ["KEYWORDS", "UNITS", "LexFail", "Tok", "grammar_text", "needs_quotes"]


class Tok(enum.StrEnum):
    """Every terminal of the grammar, by the name the parser gives its tokens."""

    # keywords (those starting with `_` are dropped from the tree)
    AGO = "AGO"
    AND = "_AND"
    BETWEEN = "_BETWEEN"
    BY = "_BY"
    CONTAINS = "_CONTAINS"
    ENDS = "_ENDS"
    FALSE = "FALSE"
    FOLLOWED = "FOLLOWED"  # `followed` before `by` (else a name), made by the lexer
    NOT_FOLLOWED = "NOT_FOLLOWED"  # `not followed` before `by`, joined by the lexer
    HAS = "HAS"
    IN = "IN"
    IS = "_IS"
    NOT = "NOT"
    NOW = "NOW"
    NULL = "NULL"
    OR = "_OR"
    SEGMENT = "SEGMENT"
    STARTS = "_STARTS"
    TODAY = "TODAY"
    TOP = "TOP"
    TRUE = "TRUE"
    WHERE = "_WHERE"
    WITH = "_WITH"
    WITHIN = "_WITHIN"
    # values and names
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    DURATION = "DURATION"
    DECIMAL = "DECIMAL"
    INT = "INT"
    STRING = "STRING"
    QUOTED_NAME = "QUOTED_NAME"
    NAME = "NAME"
    # punctuation and operators
    LPAR = "LPAR"
    RPAR = "RPAR"
    LSQB = "LSQB"
    RSQB = "RSQB"
    COMMA = "COMMA"
    DOT = "DOT"
    PLUS = "PLUS"
    MINUS = "MINUS"
    STAR = "STAR"
    SLASH = "SLASH"
    PERCENT = "PERCENT"
    EQUAL = "EQUAL"
    NOTEQUAL = "NOTEQUAL"
    LESSTHAN = "LESSTHAN"
    LESSEQUAL = "LESSEQUAL"
    MORETHAN = "MORETHAN"
    MOREEQUAL = "MOREEQUAL"
    # skipped between tokens
    COMMENT = "COMMENT"
    WS = "WS"


END = "$END"  # the type of the token after the last one


class LexFail(Exception):
    """The lexer met a character no token starts with (at ``pos``)."""

    def __init__(self, pos: int) -> None:
        self.pos = pos


KEYWORDS = frozenset(
    [
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "true",
        "false",
        "between",
        "contains",
        "starts",
        "ends",
        "with",
        "within",
        "where",
        "has",
        "segment",
        "top",
        "by",
        "ago",
        "now",
        "today",
    ]
)
UNITS = {u.value: u for u in a.DurationUnit}
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def grammar_text() -> str:
    """The one grammar, shipped as package data next to this module."""
    return resources.files("segql.lang").joinpath("segql.lark").read_text(encoding="utf-8")


def needs_quotes(name: str) -> bool:
    """Whether a name must be written in backticks."""
    return _IDENT_RE.match(name) is None or name.lower() in KEYWORDS
