"""Configurable input limits (CONTRACT §3.8)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """``max_length`` in characters; ``max_depth`` is the nesting depth of the syntax tree;
    ``max_terms`` counts operands (literals, names, ``now``/``today``, segment references)."""

    max_length: int = 10_000
    max_depth: int = 64
    max_terms: int = 1_000


DEFAULT_LIMITS = Limits()
