"""Configurable input and cost limits (CONTRACT §3.8; docs/language.md, "Limits").

The first three bound one expression's text; the last three bound what an expression costs
once the traits and segments it uses are included, so that no stage (checker, SQL
compiler, sqlglot, the in-process evaluator) meets Python's recursion limit or runs for long.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """``max_length`` in characters; ``max_depth`` is the nesting depth of the syntax tree;
    ``max_terms`` counts operands (literals, names, ``now``/``today``, segment references).

    ``max_expanded_depth`` is the nesting depth of the typed tree with every trait and
    segment it uses written out in place; ``max_nodes`` counts the nodes of that tree, each
    trait and segment counted once however often it is used; ``max_windows`` counts the
    different population rankings (``percentile``, ``top … by``) one query computes."""

    max_length: int = 10_000
    max_depth: int = 64
    max_terms: int = 1_000
    max_expanded_depth: int = 256
    max_nodes: int = 10_000
    max_windows: int = 16

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"Limits.{f.name} must be a positive int, not {value!r}")


DEFAULT_LIMITS = Limits()
