"""The one place that chains the stages: text → syntax tree → typed tree → optimized tree,
and the conveniences that take text to a back end (``to_sql``, ``matches``).

Back ends accept only typed trees; everything that starts from text comes through here,
so the order of the stages can be read in one module (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from segql.core.diagnostics import SegqlError, with_source
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import Schema
from segql.ir import dag
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang import ast

if TYPE_CHECKING:
    from segql.backends.python import Predicate

__all__ = ["compile", "matches", "to_sql", "typed"]

Source = str | ast.Expr | ir.TExpr


def typed(source: Source, schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> ir.TExpr:
    """Parse and check text or a syntax tree; a typed tree is held to ``limits`` as text is
    (:class:`~segql.core.diagnostics.LimitError`)."""
    if ir.is_node(source):
        texpr = cast(ir.TExpr, source)
        dag.enforce(texpr, limits, traits=definitions(schema).traits)
        return texpr
    from segql.checker import typed as check_typed

    return check_typed(cast(str | ast.Expr, source), schema, limits=limits)


def compile(source: Source, schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> ir.TExpr:
    """:func:`typed`, then the optimizer: what the SQL back end compiles."""
    from segql.optimize import optimize

    return optimize(typed(source, schema, limits=limits))


def _with_text(source: Source, e: SegqlError) -> SegqlError:
    """``e`` with the source line shown, when the source was text."""
    if not isinstance(source, str):
        return e
    return type(e)(with_source(e.diagnostics, source))


def to_sql(
    source: Source,
    schema: Schema,
    *,
    dialect: str = "duckdb",
    as_of: dt.datetime | dt.date | None = None,
    pretty: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> str:
    """One SQL ``SELECT`` returning the key of every member once."""
    from segql.backends.sql.query import to_sql as sql_of

    texpr = compile(source, schema, limits=limits)
    try:
        return sql_of(texpr, schema, dialect=dialect, as_of=as_of, pretty=pretty)
    except SegqlError as e:  # found while compiling (a time out of range): show the line
        raise _with_text(source, e) from None


class _Predicates:
    """A small LRU of compiled in-process predicates by (text, schema, limits), safe under
    threads. An entry holds its schema, so no other schema can take that ``id`` while the
    entry lives, and a hit also compares identity."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[str, int, Limits], tuple[Schema, Predicate]] = OrderedDict()

    def get(self, text: str, schema: Schema, limits: Limits) -> Predicate:
        key = (text, id(schema), limits)
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0] is schema:
                self.entries.move_to_end(key)
                return hit[1]
        from segql.backends.python import Predicate

        pred = Predicate(typed(text, schema, limits=limits), schema, limits=limits)
        with self.lock:
            self.entries[key] = (schema, pred)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return pred


_PREDICATES = _Predicates(256)


def matches(
    source: Source,
    schema: Schema,
    *,
    contact: Mapping[str, Any],
    events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    as_of: dt.datetime | dt.date | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bool:
    """Whether one contact is a member of the segment (CONTRACT §4.3), in-process."""
    if isinstance(source, str):
        pred = _PREDICATES.get(source, schema, limits)
    else:
        from segql.backends.python import Predicate

        pred = Predicate(typed(source, schema, limits=limits), schema, limits=limits)
    try:
        return pred(contact, events, as_of)
    except SegqlError as e:
        raise _with_text(source, e) from None
