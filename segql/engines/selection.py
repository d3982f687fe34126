"""What a query returns beside the contact's key: values by name or ``EXPR as NAME``
(CONTRACT §6.2), one membership column per segment or segmentation (batch evaluation), and
the counts of a batch."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir.definitions import definitions

__all__ = ["counts_of", "counts_query", "membership_values", "select_values", "split_fields"]


def split_fields(text: str) -> list[str]:
    """``--fields`` text into its items: commas inside brackets, strings or backticks do
    not split (``round(x, 2) as r, email``)."""
    out: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [x.strip() for x in out if x.strip()]


_AS = re.compile(r"^(?P<expr>.+?)\s+as\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*|`(?:[^`]|``)+`)\s*$",
                 re.IGNORECASE | re.DOTALL)  # fmt: skip


def select_values(schema: Schema, fields: Sequence[str]) -> list[tuple[str, ir.TExpr]]:
    """Values to return beside the key (CONTRACT §6.2): profile fields, traits and
    segmentations by name, and any value expression named with ``EXPR as NAME``."""
    out: list[tuple[str, ir.TExpr]] = []
    diags: list[Diagnostic] = []
    seen: set[str] = set()
    known = [*schema.entity.fields, *schema.traits, *schema.segmentations]
    defs = definitions(schema)
    for spec in fields:
        m = _AS.match(spec)
        name = spec
        if m is not None:
            name = m.group("name")
            if name.startswith("`"):
                name = name[1:-1].replace("``", "`")
        if name in seen or (name == schema.entity.key and m is not None):
            what = "the key" if name == schema.entity.key else "asked for twice"
            diags.append(Diagnostic(code="bad-fields", message=f"`{name}` is {what}"))
            continue
        seen.add(name)
        if m is not None:
            from segql.checker import typed  # a value expression, checked as any other

            texpr = typed(m.group("expr"), schema, value=True)
            if texpr.type is Type.NULL:
                texpr = ir.Lit(value=None, type=Type.STRING)
            if texpr.type is Type.DURATION:
                diags.append(
                    Diagnostic(
                        code="bad-fields",
                        message=f"`{name}` is a duration, which no export format holds",
                        hints=("return a number of days, e.g. `days_since(last_order)`",),
                    )
                )
                continue
            out.append((name, texpr))
            continue
        fd = schema.entity.fields.get(name)
        if fd is not None:
            out.append((name, ir.Field(name=name, column=fd.column, type=fd.type)))
        elif name in schema.traits or name in schema.segmentations:
            cache = defs.traits if name in schema.traits else defs.segmentations
            if name not in cache:  # a schema made in code, not checked yet: check it now
                from segql.checker import check_schema

                check_schema(schema)
            if name not in cache:
                kind = "trait" if name in schema.traits else "segmentation"
                diags.append(
                    Diagnostic(code=f"broken-{kind}", message=f"{kind} `{name}` has errors")
                )
                continue
            out.append((name, cache[name]))
        elif name == schema.entity.key:
            continue  # the key is always the first column
        else:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean `{near[0]}`?" if near else None
            listing = "profile fields, traits and segmentations: " + ", ".join(sorted(known)[:30])
            expr = (
                "name a value expression with `as`: `last_value(orders.product) as product`"
                if not name.isidentifier()
                else None
            )
            diags.append(
                Diagnostic(
                    code="unknown-name",
                    message=f"unknown field `{name}`",
                    hints=tuple(h for h in (hint, expr, listing) if h),
                )
            )
    if diags:
        raise EngineError(diags)
    return out


def membership_values(
    schema: Schema, names: Sequence[str] | None = None
) -> list[tuple[str, ir.TExpr]]:
    """One value per segment (true when a member, never null) and per segmentation (its
    class, a string) named in ``names`` (``@`` optional; None: every segment and
    segmentation of the schema), in that order."""
    defs = definitions(schema)
    if names is None:
        names = [*schema.segments, *schema.segmentations]
    out: list[tuple[str, ir.TExpr]] = []
    diags: list[Diagnostic] = []
    for raw in names:
        name = raw[1:] if raw.startswith("@") else raw
        errors: list[Diagnostic] = []
        if (name in schema.segments and name not in defs.segments) or (
            name in schema.segmentations and name not in defs.segmentations
        ):
            from segql.checker import check_schema

            # (checking fills the schema's definitions)
            errors = [d for d in check_schema(schema) if d.is_error]
        if name in defs.segments:
            out.append((name, ir.IsTrue(operand=defs.segments[name], segment=name)))
        elif name in defs.segmentations:
            out.append((name, defs.segmentations[name]))
        elif name in schema.broken:
            diags.extend(schema.broken[name])
        elif name in schema.segments or name in schema.segmentations:
            # defined but not valid (a schema built in code, not loaded): its errors, not
            # "unknown … did you mean" its own name
            broken = "broken-segment" if name in schema.segments else "broken-segmentation"
            diags.append(Diagnostic(code=broken, message=f"`{name}` has errors"))
            diags.extend(errors)
        else:
            known = [*schema.segments, *schema.segmentations]
            near = difflib.get_close_matches(name, known, n=1)
            diags.append(
                Diagnostic(
                    code="unknown-segment",
                    message=f"unknown segment or segmentation `{name}`",
                    hints=(f"did you mean `@{near[0]}`?",) if near else (),
                )
            )
    if diags:
        raise EngineError(diags)
    return out


def counts_query(inner: Any, values: Sequence[tuple[str, ir.TExpr]]) -> tuple[Any, list[Any]]:
    """Over a membership query (key, then ``values`` as ``m0, m1, …``): the number of
    contacts, then members per segment and per class, in one scan; with the label of each
    count after the first (a segment's name, or (segmentation, class))."""
    from sqlglot import exp

    from segql.backends.sql.functions import count_where as total

    cols: list[Any] = [exp.Count(this=exp.Star())]
    labels: list[Any] = []
    for i, (name, v) in enumerate(values):
        col = exp.column(f"m{i}", table="m", quoted=True)
        if isinstance(v, ir.Classify):
            for cls in (*v.names, *(() if v.otherwise is None else (v.otherwise,))):
                cols.append(total(exp.EQ(this=col.copy(), expression=exp.Literal.string(cls))))
                labels.append((name, cls))
        else:
            cols.append(total(col))
            labels.append(name)
    aliased = [exp.alias_(c, f"n{i}", quoted=True) for i, c in enumerate(cols)]
    return exp.select(*aliased).from_(inner.subquery("m")), labels


def counts_of(row: Sequence[Any], labels: Sequence[Any]) -> dict[str, Any]:
    """``{"contacts": n, segment: n, segmentation: {class: n}}`` from :func:`counts_query`."""
    out: dict[str, Any] = {}
    for label, n in zip(labels, row[1:], strict=True):
        if isinstance(label, tuple):
            out.setdefault(label[0], {})[label[1]] = int(n or 0)
        else:
            out[label] = int(n or 0)
    return {"contacts": int(row[0] or 0), **out}
