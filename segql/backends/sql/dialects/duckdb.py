"""DuckDB: the base profile's semantics, plus reading files in place."""

from __future__ import annotations

from segql.backends.sql.dialects.base import Capabilities, Profile


class DuckDB(Profile):
    name = "duckdb"
    sqlglot_name = "duckdb"
    title = "DuckDB"  # in messages
    caps = Capabilities(reads_files=True)
