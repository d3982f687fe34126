"""The checker's entry points: `check`, `typed` and `check_schema`."""

from __future__ import annotations

import dataclasses

from segql.checker.context import _AST_TYPES, _Ctx, _dedupe, _place, _printable, _too_deep
from segql.checker.definitions import (
    _experiment,
    _segment,
    _segment_root,
    _segmentation,
    _trait,
)
from segql.checker.expressions import _expr
from segql.core.diagnostics import (
    NO_SPAN,
    CheckError,
    Diagnostic,
    LimitError,
    SegqlError,
    Span,
)
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import FieldDef, Located, Schema, Source
from segql.core.text import unsafe_char
from segql.core.types import Type
from segql.ir import dag
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang import ast as a
from segql.lang.parser import parse


def check(
    source: str | a.Expr, schema: Schema, *, limits: Limits = DEFAULT_LIMITS
) -> list[Diagnostic]:
    """All problems with ``source`` against ``schema`` (errors and warnings). Never raises
    for user errors."""
    return _check(source, schema, limits)[1]


def typed(
    source: str | a.Expr,
    schema: Schema,
    *,
    limits: Limits = DEFAULT_LIMITS,
    value: bool = False,
) -> ir.TExpr:
    """The typed tree of a valid segment (``value``: of any value expression, such as a
    metric or a field to export); raises :class:`CheckError` with every error
    (:class:`LimitError` when every error is an exceeded limit)."""
    expr, diags = _check(source, schema, limits, value=value)
    errors = [d for d in diags if d.is_error]
    if errors and all(d.code == "limit-exceeded" for d in errors):
        raise LimitError(errors)
    if errors or expr is None:
        raise CheckError(errors or diags)
    return expr


def _check(
    source: str | a.Expr, schema: Schema, limits: Limits, *, value: bool = False
) -> tuple[ir.TExpr | None, list[Diagnostic]]:
    text = source if isinstance(source, str) else None
    if text is None and not isinstance(source, _AST_TYPES):
        raise TypeError(f"expected segql source text or a syntax tree, not {type(source).__name__}")
    try:
        tree = parse(source, limits=limits) if isinstance(source, str) else source
    except SegqlError as e:
        return None, list(e.diagnostics)
    ctx = _Ctx(schema=schema, diags=[], limits=limits, check_expr=_expr)
    try:
        out = ctx.expr(tree) if value else _segment_root(ctx, tree)
    except RecursionError:
        out = None
        ctx.diags.append(_too_deep(tree.span, "this expression"))
    if out is not None and not any(d.is_error for d in ctx.diags):
        problem = dag.cost_problem(out, limits, span=tree.span, traits=definitions(schema).traits)
        if problem is not None:
            ctx.diags.append(problem)
    diags = [_with_source(d, text) for d in ctx.diags]
    return (None if any(d.is_error for d in diags) else out), diags


def _with_source(d: Diagnostic, text: str | None) -> Diagnostic:
    if d.source is not None or text is None:
        return d
    return dataclasses.replace(d, source=text)


def check_schema(schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> list[Diagnostic]:
    """Check traits, stream filters and segments; fill the schema's typed caches.

    Diagnostics are relocated into the files the definitions came from."""
    diags: list[Diagnostic] = _unsafe_names(schema)
    for name, stream in schema.streams.items():
        if stream.filter_text is None:
            continue
        ctx = _Ctx(schema=schema, diags=[], in_filter=True, limits=limits, check_expr=_expr)
        out: ir.TExpr | None = None
        try:
            tree = parse(stream.filter_text, limits=limits)
        except SegqlError as e:
            ctx.diags.extend(e.diagnostics)
        else:
            try:
                out = ctx.inner(stream).expr(tree)
            except RecursionError:
                ctx.diags.append(_too_deep(tree.span, f"the `where` filter of stream `{name}`"))
            if out is not None and out.type not in (Type.BOOLEAN, Type.NULL):
                ctx.error(
                    "not-boolean",
                    f"the `where` filter of stream `{name}` must be a condition",
                    tree.span,
                )
                out = None
        diags += _place(ctx.diags, stream.filter_where, stream.filter_text, f"<stream {name}>")
        if out is not None and not any(d.is_error for d in ctx.diags):
            definitions(schema).filters[name] = out
    root = _Ctx(schema=schema, diags=[], limits=limits, check_expr=_expr)
    for name in schema.traits:
        _trait(root, name, _NO_USE)
    for name in schema.segments:
        _segment(root, name, _NO_USE)
    for name in schema.segmentations:
        _segmentation(root, name, _NO_USE)
    for name in schema.experiments:
        _experiment(root, name, _NO_USE)
    diags += root.diags
    return _dedupe(diags)


_NO_USE = Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1)


def _unsafe_names(schema: Schema) -> list[Diagnostic]:
    """Tables, files and columns that SQL text cannot carry (NUL, lone surrogates), and
    unqualified tables named like segql's own CTEs, reported where they are declared: no
    SQL is generated for such a schema."""
    out: list[Diagnostic] = []

    def test(text: str | None, what: str, where: Located) -> None:
        bad = unsafe_char(text) if text is not None else None
        if bad is None:
            return
        out.append(
            Diagnostic(
                code="invalid-character",
                message=f"{what} contains {bad}, which SQL text cannot carry",
                span=where.span or NO_SPAN,
                file=where.file,
                source=where.text,
            )
        )

    ent = schema.entity
    owners: list[tuple[str, Source, str, dict[str, FieldDef], Located, tuple[str, ...]]] = [
        ("the entity", ent.source, ent.key, ent.fields, ent.where, ())
    ]
    for st in schema.streams.values():
        owners.append((f"stream `{st.name}`", st.source, st.key, st.fields, st.where, (st.time,)))
    for owner, source, key, fields, where, extra in owners:
        test(source.table, f"the table of {owner}", where)
        if source.reserved:
            out.append(
                Diagnostic(
                    code="reserved-table",
                    message=f"the table of {owner}, `{_printable(source.label)}`, has a name "
                    "segql keeps for the parts of its own queries (`segql_…`)",
                    span=where.span or NO_SPAN,
                    file=where.file,
                    source=where.text,
                    hints=(_printable(source.reserved_hint),),
                )
            )
        test(str(source.file) if source.file is not None else None, f"the file of {owner}", where)
        for column in (key, *extra):
            test(column, f"a key or time column of {owner}", where)
        for name, fd in fields.items():
            test(fd.column, f"the column of field `{_printable(name)}` of {owner}", fd.where)
    return out
