"""segql's value types (CONTRACT §2, §3.3)."""

from __future__ import annotations

import enum

__all__ = ["NUMERIC", "Type", "common_numeric", "parse_type"]


class Type(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    LIST_STRING = "list<string>"
    LIST_INTEGER = "list<integer>"
    # Types that exist only inside expressions:
    DURATION = "duration"
    NULL = "null"

    def __str__(self) -> str:
        return self.value

    @property
    def is_numeric(self) -> bool:
        return self in NUMERIC

    @property
    def is_temporal(self) -> bool:
        return self in (Type.DATE, Type.TIMESTAMP)

    @property
    def is_list(self) -> bool:
        return self in (Type.LIST_STRING, Type.LIST_INTEGER)

    @property
    def element(self) -> Type:
        assert self.is_list
        return Type.STRING if self is Type.LIST_STRING else Type.INTEGER


NUMERIC = frozenset({Type.INTEGER, Type.DECIMAL, Type.FLOAT})
COLUMN_TYPES = tuple(t for t in Type if t not in (Type.DURATION, Type.NULL))

_ALIASES = {
    "str": Type.STRING,
    "text": Type.STRING,
    "int": Type.INTEGER,
    "bigint": Type.INTEGER,
    "number": Type.DECIMAL,
    "numeric": Type.DECIMAL,
    "double": Type.FLOAT,
    "bool": Type.BOOLEAN,
    "datetime": Type.TIMESTAMP,
    "list<str>": Type.LIST_STRING,
    "list<int>": Type.LIST_INTEGER,
}


def parse_type(text: str) -> Type | None:
    """The type named by a schema file, or None. Aliases are not accepted, only suggested."""
    norm = text.strip().lower().replace(" ", "")
    for t in COLUMN_TYPES:
        if t.value == norm:
            return t
    return None


def suggest_type(text: str) -> str | None:
    norm = text.strip().lower().replace(" ", "")
    hit = _ALIASES.get(norm)
    return hit.value if hit else None


def common_numeric(a: Type, b: Type) -> Type:
    """Widening for arithmetic and comparison: float beats decimal beats integer."""
    if Type.FLOAT in (a, b):
        return Type.FLOAT
    if Type.DECIMAL in (a, b):
        return Type.DECIMAL
    return Type.INTEGER
