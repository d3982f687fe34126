"""Rewrites of the typed tree that keep every result and give SQL engines cheaper plans.

`optimize` applies the rules of :mod:`segql.optimize.rules` (one per module) bottom-up; a
caller may pass its own ``rules=``. The in-process evaluator does not need them; the
pipeline runs them before the SQL back end."""

from __future__ import annotations

from segql.optimize.rewriter import optimize
from segql.optimize.rules import RULES, Rule

__all__ = ["RULES", "Rule", "optimize"]
