"""DuckDB: the base profile's semantics, plus reading files in place."""

from __future__ import annotations

from typing import Any

from segql.backends.sql.dialects.base import Capabilities, Profile, _exp, dtype


class DuckDB(Profile):
    name = "duckdb"
    sqlglot_name = "duckdb"
    title = "DuckDB"  # in messages
    caps = Capabilities(reads_files=True)

    def hex_number(self, digits: Any) -> Any:
        # DuckDB reads a 0x-prefixed string as a hexadecimal integer
        exp = _exp()
        prefixed = exp.DPipe(this=exp.Literal.string("0x"), expression=digits, safe=True)
        return exp.cast(prefixed, dtype("BIGINT"), copy=False)
