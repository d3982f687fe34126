"""Why a contact is in a segment or not (CONTRACT §6.3): the segment's conditions as a
tree, each clause with its truth for that contact (true, false or unknown) and, for a
comparison, the value it compared (``purchases = 2``, needed ``> 3``); segments used with
`in segment` are opened in place. The values are read by the engine in one query for that
contact's key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.ir import nodes as ir
from segql.lang import ast as a

__all__ = ["Clause", "clauses", "contact_is", "fill", "render"]

_OPERAND = (a.Compare, a.Between, a.InList, a.IsNull, a.Match, a.Within)
_DEPTH = 16  # segments opened inside segments
_CONSTANT = (
    a.IntLit, a.DecimalLit, a.StringLit, a.BoolLit, a.NullLit, a.DateLit, a.TimestampLit,
    a.DurationLit, a.ListLit, a.Now, a.Today, a.Ago,
)  # fmt: skip


def _flat(node: a.Expr) -> str:
    from segql.lang.formatter import format_expr

    return format_expr(node, width=1 << 30)


@dataclass
class Clause:
    """One node of the explanation. ``truth`` and ``value`` are filled from the engine."""

    text: str
    kind: str  # "and", "or", "not", "segment", "condition"
    truth_col: str | None = None
    # the compared values that are not literals: (text, column), e.g. ("purchases", "v3")
    operands: list[tuple[str, str]] = field(default_factory=list)
    children: list[Clause] = field(default_factory=list)
    truth: bool | None = None
    values: list[Any] = field(default_factory=list)

    def __str__(self) -> str:
        return render(self, None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "kind": self.kind, "truth": _word(self.truth)}
        if self.operands:
            out["operands"] = [
                {"text": t, "value": _plain(v)}
                for (t, _), v in zip(self.operands, self.values, strict=True)
            ]
        if self.children:
            out["children"] = [c.to_json() for c in self.children]
        return out


def clauses(
    source: str, schema: Schema, values: list[tuple[str, ir.TExpr]], depth: int = 0
) -> Clause:
    """The clause tree of ``source`` (an expression or ``@segment``), adding the typed value
    of each clause (and compared operand) to ``values``."""
    from segql.checker import typed
    from segql.lang.parser import parse

    if source.startswith("@") and source[1:] in schema.segmentations:
        name = source[1:]
        sg = schema.segmentations[name]
        col = f"v{len(values)}"
        values.append((col, typed(name, schema, value=True)))
        kids = []
        for cls in sg.classes:
            kid = clauses(cls.text, schema, values, depth + 1)
            kid.text = f"{cls.name}: {kid.text}"
            kids.append(kid)
        return Clause(text=name, kind="segmentation", operands=[(name, col)], children=kids)
    if source.startswith("@"):
        name = source[1:]
        if name not in schema.segments:
            raise EngineError(
                Diagnostic(code="unknown-segment", message=f"unknown segment `{name}`")
            )
        inner = clauses(schema.segments[name].text, schema, values, depth + 1)
        return Clause(text=f"in segment {name}", kind="segment", truth_col=inner.truth_col,
                      children=[inner])  # fmt: skip
    typed(source, schema)  # every error at once, positioned in the whole text

    def add(text: str, *, value: bool = False) -> str:
        col = f"v{len(values)}"
        values.append((col, typed(text, schema, value=value)))
        return col

    def build(node: a.Expr) -> Clause:
        text = _flat(node)
        match node:
            case a.BoolOp(op=op, operands=ops):
                return Clause(text=text, kind=op.value, truth_col=add(text),
                              children=[build(o) for o in ops])  # fmt: skip
            case a.Not(operand=o):
                return Clause(text=text, kind="not", truth_col=add(text), children=[build(o)])
            case a.InSegment(name=n) if n in schema.segments and depth < _DEPTH:
                body = clauses(schema.segments[n].text, schema, values, depth + 1)
                return Clause(text=text, kind="segment", truth_col=add(text), children=[body])
            case _ if isinstance(node, _OPERAND):
                sides = (
                    [node.left, node.right]
                    if isinstance(node, a.Compare | a.Match)
                    else [node.operand]
                )
                clause = Clause(text=text, kind="condition", truth_col=add(text))
                for side in sides:
                    if not isinstance(side, _CONSTANT):
                        shown = _flat(side)
                        clause.operands.append((shown, add(shown, value=True)))
                return clause
        return Clause(text=text, kind="condition", truth_col=add(text))

    return build(parse(source))


def fill(clause: Clause, row: dict[str, Any]) -> None:
    """Put the engine's answers into the tree."""
    if clause.truth_col is not None:
        t = row.get(clause.truth_col)
        clause.truth = None if t is None else bool(t)
    clause.values = [row.get(col) for _, col in clause.operands]
    for c in clause.children:
        fill(c, row)


def render(clause: Clause, key: Any = None) -> str:
    """The tree as text: a person reads why the contact is in or out."""
    lines: list[str] = []
    if clause.kind == "segmentation":
        cls = clause.values[0] if clause.values else None
        where = "in no class" if cls is None else f"in class `{cls}`"
        who = "the contact" if key is None else f"contact {key}"
        lines.append(f"{who} is {where} of `{clause.text}` (the first class that is true)")
    else:
        verdict = "a member" if clause.truth is True else "not a member"
        who = "the contact" if key is None else f"contact {key}"
        lines.append(f"{who} is {verdict}")

    def walk(c: Clause, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        shown = [f"{t} = {_show(v)}" for (t, _), v in zip(c.operands, c.values, strict=True)]
        note = f"   ({', '.join(shown)})" if shown else ""
        if c.kind == "segmentation":
            lines.append(f"{c.text}{note}")
        else:
            lines.append(f"{prefix}{branch}{_word(c.truth):<8} {c.text}{note}")
        child_prefix = prefix + ("" if top else ("   " if last else "│  "))
        for i, k in enumerate(c.children):
            walk(k, child_prefix, i == len(c.children) - 1, False)

    walk(clause, "", True, True)
    return "\n".join(lines) + "\n"


def _word(t: bool | None) -> str:
    return "unknown" if t is None else "true" if t else "false"


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def contact_is(schema: Schema, key: Any) -> ir.TExpr:
    """``key column = key``, the key read as the column's type (a CLI gives text)."""
    from segql.core.types import Type

    fd = schema.entity.fields.get(schema.entity.key)
    t = fd.type if fd is not None else Type.INTEGER
    column = fd.column if fd is not None else schema.entity.key
    if t is Type.INTEGER and isinstance(key, str):
        try:
            key = int(key.strip())
        except ValueError:
            raise EngineError(
                Diagnostic(
                    code="bad-input",
                    message=f"the contact key {key!r} is not an integer, as the `{column}` "
                    "column is",
                )
            ) from None
    elif t is Type.STRING:
        key = str(key)
    return ir.Compare(
        op=ir.CmpOp.EQ,
        left=ir.Field(name=schema.entity.key, column=column, type=t),
        right=ir.Lit(value=key, type=t),
    )
