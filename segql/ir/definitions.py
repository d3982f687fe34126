"""The typed trees of a schema's traits, stream filters and segments, kept beside the
schema rather than on it: :class:`~segql.core.schema.Schema` stays plain data that the
checker never changes, and a schema that is dropped takes its typed trees with it.

The checker fills the entry of a schema as it checks definitions (each once); back ends
read it. A schema made with ``dataclasses.replace`` is a new schema with no entry: its
traits and segments are checked again when first used, and its stream filters when
:func:`segql.checker.check_schema` runs on it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from segql.ir import nodes as ir

if TYPE_CHECKING:
    from segql.core.schema import Schema

__all__ = ["Definitions", "definitions"]


@dataclass(slots=True)
class Definitions:
    """Typed trees by name; a name is absent until checked, or when its check failed."""

    traits: dict[str, ir.TExpr] = field(default_factory=dict)
    filters: dict[str, ir.TExpr] = field(default_factory=dict)
    segments: dict[str, ir.TExpr] = field(default_factory=dict)
    segmentations: dict[str, ir.TExpr] = field(default_factory=dict)
    experiments: dict[str, ir.TExpr] = field(default_factory=dict)  # the arm (a Classify)
    goals: dict[str, ir.TExpr] = field(default_factory=dict)  # as written, at any as_of


_BY_SCHEMA: dict[int, Definitions] = {}
_LOCK = threading.Lock()


def definitions(schema: Schema) -> Definitions:
    """The typed definitions of ``schema`` (created empty on first use)."""
    key = id(schema)
    found = _BY_SCHEMA.get(key)
    if found is not None:
        return found
    with _LOCK:
        found = _BY_SCHEMA.get(key)
        if found is None:
            found = _BY_SCHEMA[key] = Definitions()
            # The entry lives exactly as long as the schema (ids are reused after).
            weakref.finalize(schema, _BY_SCHEMA.pop, key, None)
    return found
