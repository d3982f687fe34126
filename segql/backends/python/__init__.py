"""The in-process back end: a typed tree compiled into a Python predicate over one contact
and its events (the semantic reference the SQL dialects are tested against)."""

from __future__ import annotations

from segql.backends.python.predicate import Predicate

__all__ = ["Predicate"]
