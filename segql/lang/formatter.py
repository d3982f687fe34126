"""Canonical printing: ``format(parse(text))`` is the one spelling of an expression.

Keywords are lower-case, strings single-quoted, parentheses only where precedence needs
them. Expressions longer than ``width`` break before each top-level ``and`` / ``or``.
``parse(format(e)) == e`` for every tree the parser can produce.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import assert_never

from segql.core.diagnostics import Diagnostic, LimitError
from segql.lang import ast as a
from segql.lang.parser import measure
from segql.lang.tokens import needs_quotes

__all__ = ["format_expr", "quote_name", "quote_string"]

# Precedence levels of CONTRACT §3.2 (higher binds tighter).
OR, AND, NOT, PRED, ADD, MUL, NEG, ATOM = 1, 2, 3, 4, 5, 6, 7, 8


def quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`" if needs_quotes(name) else name


_STRING_ESCAPES = {"\\": "\\\\", "'": "''", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote_string(value: str) -> str:
    out = ["'"]
    for ch in value:
        esc = _STRING_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif not ch.isprintable() and ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." not in text:
        text += ".0"
    return text


def _timestamp(value: dt.datetime) -> str:
    text = value.replace(tzinfo=None).isoformat(timespec="auto")
    if value.tzinfo is None:
        return text
    off = value.utcoffset()
    if not off:
        return text + "Z"
    total = int(off.total_seconds()) // 60
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def level(e: a.Expr) -> int:
    """How tightly an expression binds when printed without parentheses."""
    match e:
        case a.BoolOp(op=a.BoolOpKind.OR):
            return OR
        case a.BoolOp():
            return AND
        case a.Not():
            return NOT
        case a.Compare() | a.Between() | a.InList() | a.IsNull() | a.Match() | a.Within():
            return PRED
        case a.Has(where=w, within=d, then=t) if w is not None or d is not None or t:
            # A trailing clause would swallow what follows (`has E where x + 1`).
            return PRED
        case a.Arith(op=a.ArithOp.ADD | a.ArithOp.SUB):
            return ADD
        case a.Arith():
            return MUL
        case a.Neg():
            return NEG
        case a.IntLit(value=v) if v < 0:
            return NEG
        case a.DecimalLit(value=v) if v < 0:
            return NEG
    return ATOM


def absorbs_within(e: a.Expr) -> bool:
    """Whether ``e`` printed as a condition, followed by ``within D``, would hand that
    ``within`` to a ``has`` at its end instead of the enclosing aggregate."""
    while True:
        if isinstance(e, a.Has):
            # A trailing `has` without its own `within` takes the next `within` itself.
            return (e.within if e.then is None else e.then.within) is None
        kids = a.children(e)
        if not kids or isinstance(e, a.ListLit | a.Call | a.Aggregate | a.InList):
            return False
        e = kids[-1]


def _cond(e: a.Expr, need: int) -> str:
    """A condition inside `where`: like `_wrap`, but `x within D` needs parentheses there."""
    match e:
        case a.Within():
            return f"({_fmt(e)})"
        case a.BoolOp(op=op, operands=ops):
            inner = OR + 1 if op is a.BoolOpKind.OR else AND + 1
            text = f" {op.value} ".join(_cond(o, inner) for o in ops)
            return f"({text})" if level(e) < need else text
        case a.Not(operand=o):
            text = "not " + _cond(o, NOT)
            return f"({text})" if need > NOT else text
    return _wrap(e, need)


def _ends_with_has(e: a.Expr) -> bool:
    while not isinstance(e, a.Has):
        kids = a.children(e)
        if not kids or isinstance(e, a.ListLit | a.Call | a.Aggregate | a.InList):
            return False
        e = kids[-1]
    return True


def _where(cond: a.Expr, need: int, within: a.DurationLit | None, *, followed: bool = False) -> str:
    text = _cond(cond, need)
    if (within is not None and absorbs_within(cond)) or (followed and _ends_with_has(cond)):
        # a trailing `has` would take the `within` or `followed by` meant for this one
        text = f"({text})"
    return f" where {text}"


def format_expr(expr: a.Expr, *, width: int = 88) -> str:
    try:
        flat = _fmt(expr)
    except RecursionError:
        # Only a tree parsed with raised limits gets here (the default depth limit is 64).
        raise LimitError(
            Diagnostic(
                code="limit-exceeded",
                message=f"expression is nested {measure(expr)[0]:,} levels deep; too deep to print",
                span=expr.span,
                hints=("flatten it, or move parts into traits or named segments",),
            )
        ) from None
    if len(flat) <= width:
        return flat
    if isinstance(expr, a.Has):
        return _sequence_lines(expr, flat)
    if not isinstance(expr, a.BoolOp):
        return flat
    sep = f"\n{expr.op.value} "
    need = OR + 1 if expr.op is a.BoolOpKind.OR else AND + 1
    parts = []
    for o in expr.operands:
        text = _wrap(o, need)
        parts.append(_sequence_lines(o, text) if len(text) > width else text)
    return sep.join(parts)


def _sequence_lines(e: a.Expr, text: str) -> str:
    """A long `has A … followed by B …` on two lines, the second indented."""
    if not isinstance(e, a.Has) or e.then is None:
        return text
    head = _fmt(a.Has(stream=e.stream, where=e.where, within=e.within, span=e.span))
    if not text.startswith(head + " "):  # (a first condition needing parentheses)
        return text
    return head + "\n  " + text[len(head) + 1 :]


def _wrap(e: a.Expr, need: int) -> str:
    text = _fmt(e)
    return f"({text})" if level(e) < need else text


def _fmt(e: a.Expr) -> str:
    match e:
        case a.IntLit(value=v):
            return str(v)
        case a.DecimalLit(value=v):
            return _decimal(v)
        case a.StringLit(value=v):
            return quote_string(v)
        case a.BoolLit(value=v):
            return "true" if v else "false"
        case a.NullLit():
            return "null"
        case a.DateLit(value=v):
            return v.isoformat()
        case a.TimestampLit(value=v):
            return _timestamp(v)
        case a.DurationLit(amount=n, unit=u):
            return f"{n}{u.value}"
        case a.ListLit(items=items):
            return "[" + ", ".join(_wrap(i, ADD) for i in items) + "]"
        case a.Name(parts=parts):
            return ".".join(quote_name(p) for p in parts)
        case a.Now():
            return "now"
        case a.Today():
            return "today"
        case a.Ago(duration=d):
            return f"{_fmt(d)} ago"
        case a.Neg(operand=o):
            inner = _wrap(o, NEG)
            return "- " + inner if inner.startswith("-") else "-" + inner
        case a.Not(operand=o):
            return "not " + _wrap(o, NOT)
        case a.Arith(op=op, left=l, right=r):
            tight = ADD if op in (a.ArithOp.ADD, a.ArithOp.SUB) else MUL
            return f"{_wrap(l, tight)} {op.value} {_wrap(r, tight + 1)}"
        case a.BoolOp(op=op, operands=ops):
            need = OR + 1 if op is a.BoolOpKind.OR else AND + 1
            return f" {op.value} ".join(_wrap(o, need) for o in ops)
        case a.Compare(op=op, left=l, right=r):
            return f"{_wrap(l, ADD)} {op.value} {_wrap(r, ADD)}"
        case a.Between(operand=o, low=lo, high=hi):
            return f"{_wrap(o, ADD)} between {_wrap(lo, ADD)} and {_wrap(hi, ADD)}"
        case a.InList(operand=o, items=items, negated=neg):
            kw = "not in" if neg else "in"
            return f"{_wrap(o, ADD)} {kw} [" + ", ".join(_wrap(i, ADD) for i in items) + "]"
        case a.IsNull(operand=o, negated=neg):
            return f"{_wrap(o, ADD)} is {'not null' if neg else 'null'}"
        case a.Match(op=op, left=l, right=r):
            return f"{_wrap(l, ADD)} {op.value} {_wrap(r, ADD)}"
        case a.Within(operand=o, duration=d):
            operand = _wrap(o, ADD)
            if absorbs_within(o) and not operand.startswith("("):
                operand = f"({operand})"
            return f"{operand} within {_fmt(d)}"
        case a.Call(func=f, args=args):
            return f"{f}(" + ", ".join(_cond(x, OR) for x in args) + ")"
        case a.Aggregate(func=f, target=t, where=w, within=d, calendar=cal):
            text = f"{f}({_fmt(t)}" if cal is None else f"{f}({cal}({_fmt(t)})"
            if w is not None:
                text += _where(w, OR, d)
            if d is not None:
                text += f" within {_fmt(d)}"
            return text + ")"
        case a.Has(stream=s, where=w, within=d, then=then):
            text = f"has {_fmt(s)}"
            if w is not None:
                text += _where(w, PRED, d, followed=then is not None and d is None)
            if d is not None:
                text += f" within {_fmt(d)}"
            if then is not None:
                text += " not followed by " if then.negated else " followed by "
                text += _fmt(then.stream)
                if then.where is not None:
                    text += _where(then.where, PRED, then.within)
                if then.within is not None:
                    text += f" within {_fmt(then.within)}"
            return text
        case a.InSegment(name=n):
            return f"in segment {quote_name(n)}"
        case a.Top(percent=p, by=b):
            return f"top {_fmt(p)}% by {_wrap(b, ATOM)}"
        case _:
            assert_never(e)
