"""Any other sqlglot dialect: the base profile's typed nodes in that dialect's spelling.
Experimental: not executed by segql's tests, so no `MATERIALIZED` hints."""

from __future__ import annotations

from segql.backends.sql.dialects.base import Capabilities, Profile


class Generic(Profile):
    caps = Capabilities(materialized_ctes=False)

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlglot_name = name
        self.title = name
