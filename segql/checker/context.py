"""The checker's context (schema, diagnostics, where we are) and the small helpers every
part of the checker shares: descriptions, suggestions, literal ranges."""

from __future__ import annotations

import dataclasses
import decimal
import difflib
import typing
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from segql.core.diagnostics import (
    Diagnostic,
    LimitError,
    SegqlError,
    Severity,
    Span,
    relocate,
)
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import Located, Schema, Stream
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc
from segql.lang import ast as a
from segql.lang.formatter import format_expr, quote_name
from segql.lang.functions import FUNCTIONS

_FLIP = a.FLIPPED


_AST_TYPES = typing.get_args(a.Expr)


# Literal ranges: what every supported engine represents exactly (BIGINT, DECIMAL(38)).
_INT64_MAX = 2**63 - 1


_DECIMAL_DIGITS = 38


_ROUND_DIGITS = 18


_WIDE = decimal.Context(prec=100)  # exact for sums of 38-digit literals


def _decimal_digits(v: Decimal) -> int:
    """Digits of a decimal as SQL prints it: the integer part without leading zeros (at
    least one digit, as in `0.5`) and every fractional digit, trailing zeros included."""
    _, digits, exponent = v.as_tuple()
    assert isinstance(exponent, int)
    return max(1, len(digits) + exponent) + max(0, -exponent)


_FUNCS: dict[str, ir.FuncName] = {f.value: f for f in ir.FuncName}


_ALL_FUNCS = sorted(FUNCTIONS)


# Characters no SQL text may carry: NUL (SQLite refuses it, PostgreSQL ends the statement
# there) and lone surrogates (not encodable, so neither sendable nor printable).
def _printable(text: str) -> str:
    """``text`` with control characters and lone surrogates escaped, so that a message
    quoting user text can always be printed (and never drives a terminal)."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cs")
        else ch
        for ch in text
    )


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _suggest(name: str, candidates: Iterable[str]) -> list[str]:
    cands = list(candidates)
    exact_ci = [c for c in cands if c.lower() == name.lower() and c != name]
    if exact_ci:
        return exact_ci[:1]
    return difflib.get_close_matches(name, cands, n=3, cutoff=0.6)


def _did_you_mean(name: str, candidates: Iterable[str]) -> tuple[str, ...]:
    hits = _suggest(name, candidates)
    if not hits:
        return ()
    return ("did you mean " + " or ".join(f"`{quote_name(h)}`" for h in hits) + "?",)


def _describe(e: a.Expr) -> str:
    try:
        text = format_expr(e)
    except LimitError:  # too deep to print (limits raised far beyond the defaults)
        return "this part"
    if len(text) > 40:
        text = text[:37] + "…"
    return f"`{text}`"


@dataclass
class _Ctx:
    schema: Schema
    diags: list[Diagnostic]
    stream: Stream | None = None  # inside an aggregate's where / a stream filter
    in_filter: bool = False
    # inside the `where` after `followed by`: the earlier event's stream, for `A.f`
    prior: Stream | None = None
    trait_stack: list[str] = field(default_factory=list)
    segment_stack: list[str] = field(default_factory=list)
    segmentation_stack: list[str] = field(default_factory=list)
    experiment_stack: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    limits: Limits = DEFAULT_LIMITS
    parsed: dict[str, a.Expr | SegqlError] = field(default_factory=dict)  # by "kind:name"
    # The dispatch over syntax nodes (segql.checker.expressions), handed in by the entry
    # points so that the parts of the checker need not import each other in a circle.
    check_expr: Callable[[_Ctx, a.Expr], ir.TExpr | None] | None = None

    def expr(self, e: a.Expr) -> ir.TExpr | None:
        """The typed form of ``e``, or None after reporting why it has none."""
        assert self.check_expr is not None
        return self.check_expr(self, e)

    def error(self, code: str, message: str, span: Span, *hints: str) -> None:
        self._add(Severity.ERROR, code, message, span, hints)

    def warn(self, code: str, message: str, span: Span, *hints: str) -> None:
        self._add(Severity.WARNING, code, message, span, hints)

    def _add(
        self, severity: Severity, code: str, message: str, span: Span, hints: tuple[str, ...]
    ) -> None:
        self.diags.append(
            Diagnostic(
                code=code,
                message=_printable(message),
                span=span,
                hints=tuple(_printable(h) for h in hints),
                severity=severity,
            )
        )

    def inner(self, stream: Stream | None, prior: Stream | None = None) -> _Ctx:
        return _Ctx(
            schema=self.schema,
            diags=self.diags,
            stream=stream,
            in_filter=self.in_filter,
            prior=prior,
            trait_stack=self.trait_stack,
            segment_stack=self.segment_stack,
            segmentation_stack=self.segmentation_stack,
            experiment_stack=self.experiment_stack,
            broken=self.broken,
            limits=self.limits,
            parsed=self.parsed,
            check_expr=self.check_expr,
        )


def _a(t: Type) -> str:
    word = str(t)
    return ("an " if word[0] in "aeiou" else "a ") + word


def _boolean_hint(t: Type) -> tuple[str, ...]:
    if t.is_numeric:
        return ("compare it with a number, e.g. `… > 0`",)
    if t.is_temporal:
        return ("compare it with a duration, e.g. `… < 30d`, or use `within 30d`",)
    if t is Type.STRING:
        return ("compare it with a string, e.g. `… = 'x'`",)
    return ()


def _within_hint(x: ir.TExpr) -> tuple[str, ...]:
    if x.type is Type.BOOLEAN:
        return (
            "inside `count(E where …)`, `within D` after the condition limits the events; "
            "put the condition in parentheses if you meant that",
        )
    return ()


def _dur(ctx: _Ctx, d: a.DurationLit) -> ir.Duration:
    if timecalc.longest_duration(d.amount, d.unit):
        ctx.error(
            "out-of-range",
            f"`{_short(format_expr(d))}` is longer than any two supported times are apart",
            d.span,
            timecalc.RANGE_TEXT,
        )
    return ir.Duration(amount=d.amount, unit=d.unit, span=d.span)


def _numeric_or_null(x: ir.TExpr) -> bool:
    return x.type.is_numeric or x.type is Type.NULL


def _num(t: Type) -> Type:
    return Type.INTEGER if t is Type.NULL else t


def _to_ts(x: ir.TExpr) -> ir.TExpr:
    if x.type is Type.DATE:
        if isinstance(x, ir.Lit) and x.value is None:
            return x
        return ir.DateToTimestamp(operand=x, span=_span(x))
    return x


def _span(x: ir.TExpr) -> Span:
    return x.span


def _too_deep(span: Span, what: str) -> Diagnostic:
    """The last resort when Python's recursion limit is reached anyway (limits raised far
    beyond their defaults, or a very deep calling program)."""
    return Diagnostic(
        code="limit-exceeded",
        message=f"{what} is nested too deeply to check",
        span=span,
        hints=("flatten it, or move parts into traits or named segments",),
    )


def _place(
    diags: Sequence[Diagnostic], where: Located, text: str, fallback: str
) -> list[Diagnostic]:
    out = []
    for d in diags:
        if d.file is not None:
            # Already placed: a definition this one uses, reported where it is defined.
            out.append(d)
        elif where.text is not None and where.offsets:
            out.append(relocate(d, file=where.file, text=where.text, offsets=where.offsets))
        else:
            out.append(dataclasses.replace(d, file=where.file or fallback, source=text))
    return out


def _dedupe(diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[object, ...]] = set()
    out: list[Diagnostic] = []
    for d in diags:
        key = (d.code, d.message, d.file, d.span.start, d.span.end)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
