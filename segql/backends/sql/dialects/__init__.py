"""What differs between SQL dialects, owned by segql and verified by execution.

sqlglot builds and prints the SQL; a profile decides the few constructs whose meaning
sqlglot's generic nodes do not preserve across engines (timestamp and date literals and
columns, time zone conversion, calendar parts, list functions) and declares its engine's
:class:`Capabilities`. One module per dialect; each supported profile is exercised by
the test suite on a real engine, and every other sqlglot dialect gets the experimental
generic profile.
"""

from __future__ import annotations

from segql.backends.sql.dialects.base import Capabilities, HasPlan, Profile, dtype
from segql.backends.sql.dialects.clickhouse import ClickHouse
from segql.backends.sql.dialects.duckdb import DuckDB
from segql.backends.sql.dialects.generic import Generic
from segql.backends.sql.dialects.postgres import Postgres
from segql.backends.sql.dialects.spark import Spark
from segql.backends.sql.dialects.sqlite import SQLite

__all__ = [
    "SUPPORTED",
    "Capabilities",
    "HasPlan",
    "Profile",
    "dialect_names",
    "dtype",
    "experimental_dialects",
    "profile_for",
]

SUPPORTED = ("duckdb", "postgres", "sqlite", "spark", "clickhouse")

_PROFILES: dict[str, Profile] = {
    "duckdb": DuckDB(),
    "postgres": Postgres(),
    "sqlite": SQLite(),
    "spark": Spark(),
    "clickhouse": ClickHouse(),
}
_ALIASES = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite"}


def profile_for(dialect: str) -> Profile | None:
    """The profile of a dialect name, or None when sqlglot does not know it."""
    name = _ALIASES.get(dialect.lower(), dialect.lower())
    if name in _PROFILES:
        return _PROFILES[name]
    from sqlglot.dialects.dialect import Dialect

    try:
        Dialect.get_or_raise(name)
    except ValueError:
        return None
    return Generic(name)


def dialect_names() -> list[str]:
    """Every dialect name :func:`profile_for` accepts (supported, aliases, experimental)."""
    return sorted({*SUPPORTED, *_ALIASES, *experimental_dialects()})


def experimental_dialects() -> list[str]:
    from sqlglot.dialects.dialect import Dialects

    return sorted(d.value for d in Dialects if d.value and d.value not in SUPPORTED)
