"""The checker: AST + schema -> typed tree (:mod:`segql.ir`) and diagnostics.

Every user mistake becomes a positioned :class:`Diagnostic`; the checker never raises for
them and reports all problems at once. Sub-expressions with errors become ``None`` so one
mistake does not cascade into a dozen. Later stages consume the typed tree and never
re-check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import difflib
import typing
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from segql.core.diagnostics import (
    NO_SPAN,
    CheckError,
    Diagnostic,
    LimitError,
    SegqlError,
    Severity,
    Span,
    relocate,
)
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import FieldDef, Located, Schema, Source, Stream
from segql.core.text import unsafe_char
from segql.core.types import Type, common_numeric
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.lang import ast as a
from segql.lang.formatter import format_expr, quote_name
from segql.lang.functions import AGGREGATES
from segql.lang.parser import parse

__all__ = ["check", "check_schema", "resolve", "typed"]

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
_ALL_FUNCS = sorted([*_FUNCS, *AGGREGATES, "percentile"])


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
    trait_stack: list[str] = field(default_factory=list)
    segment_stack: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)
    limits: Limits = DEFAULT_LIMITS
    parsed: dict[str, a.Expr | SegqlError] = field(default_factory=dict)  # by "kind:name"

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

    def inner(self, stream: Stream | None) -> _Ctx:
        return _Ctx(
            schema=self.schema,
            diags=self.diags,
            stream=stream,
            in_filter=self.in_filter,
            trait_stack=self.trait_stack,
            segment_stack=self.segment_stack,
            broken=self.broken,
            limits=self.limits,
            parsed=self.parsed,
        )


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def check(
    source: str | a.Expr, schema: Schema, *, limits: Limits = DEFAULT_LIMITS
) -> list[Diagnostic]:
    """All problems with ``source`` against ``schema`` (errors and warnings). Never raises
    for user errors."""
    return _check(source, schema, limits)[1]


def typed(source: str | a.Expr, schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> ir.TExpr:
    """The typed tree of a valid segment; raises :class:`CheckError` with every error
    (:class:`LimitError` when every error is an exceeded limit)."""
    expr, diags = _check(source, schema, limits)
    errors = [d for d in diags if d.is_error]
    if errors and all(d.code == "limit-exceeded" for d in errors):
        raise LimitError(errors)
    if errors or expr is None:
        raise CheckError(errors or diags)
    return expr


resolve = typed


def _check(
    source: str | a.Expr, schema: Schema, limits: Limits
) -> tuple[ir.TExpr | None, list[Diagnostic]]:
    text = source if isinstance(source, str) else None
    if text is None and not isinstance(source, _AST_TYPES):
        raise TypeError(f"expected segql source text or a syntax tree, not {type(source).__name__}")
    try:
        tree = parse(source, limits=limits) if isinstance(source, str) else source
    except SegqlError as e:
        return None, list(e.diagnostics)
    ctx = _Ctx(schema=schema, diags=[], limits=limits)
    try:
        out = _segment_root(ctx, tree)
    except RecursionError:
        out = None
        ctx.diags.append(_too_deep(tree.span, "this expression"))
    if out is not None and not any(d.is_error for d in ctx.diags):
        problem = dag.cost_problem(out, limits, span=tree.span, traits=schema.traits_ir)
        if problem is not None:
            ctx.diags.append(problem)
    diags = [_with_source(d, text) for d in ctx.diags]
    return (None if any(d.is_error for d in diags) else out), diags


def _too_deep(span: Span, what: str) -> Diagnostic:
    """The last resort when Python's recursion limit is reached anyway (limits raised far
    beyond their defaults, or a very deep calling program)."""
    return Diagnostic(
        code="limit-exceeded",
        message=f"{what} is nested too deeply to check",
        span=span,
        hints=("flatten it, or move parts into traits or named segments",),
    )


def _with_source(d: Diagnostic, text: str | None) -> Diagnostic:
    if d.source is not None or text is None:
        return d
    return dataclasses.replace(d, source=text)


def _segment_root(ctx: _Ctx, tree: a.Expr) -> ir.TExpr | None:
    out = _expr(ctx, tree)
    if out is not None and out.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "not-boolean",
            f"a segment must be a condition (true or false), but {_describe(tree)} is "
            f"{_a(out.type)}",
            tree.span,
            *_boolean_hint(out.type),
        )
        return None
    return out


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


def check_schema(schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> list[Diagnostic]:
    """Check traits, stream filters and segments; fill the schema's typed caches.

    Diagnostics are relocated into the files the definitions came from."""
    diags: list[Diagnostic] = _unsafe_names(schema)
    for name, stream in schema.streams.items():
        if stream.filter_text is None:
            continue
        ctx = _Ctx(schema=schema, diags=[], in_filter=True, limits=limits)
        out: ir.TExpr | None = None
        try:
            tree = parse(stream.filter_text, limits=limits)
        except SegqlError as e:
            ctx.diags.extend(e.diagnostics)
        else:
            try:
                out = _expr(ctx.inner(stream), tree)
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
            schema.filters_ir[name] = out
    root = _Ctx(schema=schema, diags=[], limits=limits)
    for name in schema.traits:
        _trait(root, name, _NO_USE)
    for name in schema.segments:
        _segment(root, name, _NO_USE)
    diags += root.diags
    return _dedupe(diags)


_NO_USE = Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1)


def _unsafe_names(schema: Schema) -> list[Diagnostic]:
    """Tables, files and columns that SQL text cannot carry (NUL, lone surrogates),
    reported where they are declared: no SQL is generated for such a schema."""
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
        test(str(source.file) if source.file is not None else None, f"the file of {owner}", where)
        for column in (key, *extra):
            test(column, f"a key or time column of {owner}", where)
        for name, fd in fields.items():
            test(fd.column, f"the column of field `{_printable(name)}` of {owner}", fd.where)
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


# ---------------------------------------------------------------------------------------
# Traits and segments (checked lazily, once, with cycle detection)
# ---------------------------------------------------------------------------------------


def _trait(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "trait", name, use)


def _segment(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "segment", name, use)


def _definition(ctx: _Ctx, kind: str, name: str, use: Span) -> ir.TExpr | None:
    """A trait or segment, checked once (cached on the schema) after every definition it
    uses; its own diagnostics are reported where it is defined, and each use of a broken
    one is reported at the use."""
    schema = ctx.schema
    is_trait = kind == "trait"
    cache = schema.traits_ir if is_trait else schema.segments_ir
    if name in cache:
        return cache[name]
    if f"{kind}:{name}" not in ctx.broken:
        stack = ctx.trait_stack if is_trait else ctx.segment_stack
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            shown = cycle if len(cycle) <= 10 else [*cycle[:4], "…", *cycle[-3:]]
            ctx.error(
                "cycle",
                f"{kind}s refer to each other in a cycle: "
                + " -> ".join(shown)
                + (f" ({len(cycle) - 1} in all)" if len(cycle) > 10 else ""),
                use,
                "break the cycle by writing one of them without the others"
                if is_trait
                else "a segment cannot contain itself, directly or through others",
            )
            return None
        _check_in_order(ctx, kind, name)
        if name in cache:
            return cache[name]
    if ctx.trait_stack or ctx.segment_stack or use.end:
        ctx.error(f"broken-{kind}", f"{kind} `{name}` has errors (reported above)", use)
    return None


def _check_in_order(ctx: _Ctx, kind: str, name: str) -> None:
    """Check a definition after the definitions it uses, depth first but without recursion:
    when one is checked, every definition it refers to is already cached or known broken
    (or on the current path: a cycle, reported at the reference that closes it). So a chain
    of any length takes a bounded amount of Python stack."""
    tstack = list(ctx.trait_stack)
    sstack = list(ctx.segment_stack)
    on_path = {f"trait:{n}" for n in tstack} | {f"segment:{n}" for n in sstack}
    frames: list[tuple[str, str, Iterator[tuple[str, str]]]] = []

    def enter(k: str, n: str) -> None:
        on_path.add(f"{k}:{n}")
        (tstack if k == "trait" else sstack).append(n)
        frames.append((k, n, iter(_references(ctx, k, n))))

    enter(kind, name)
    while frames:
        k, n, refs = frames[-1]
        nxt = next(refs, None)
        if nxt is None:
            frames.pop()
            _check_one(ctx, k, n, tstack, sstack)
            (tstack if k == "trait" else sstack).pop()
            on_path.discard(f"{k}:{n}")
            continue
        rk, rn = nxt
        key = f"{rk}:{rn}"
        done = ctx.schema.traits_ir if rk == "trait" else ctx.schema.segments_ir
        if rn in done or key in ctx.broken or key in on_path:
            continue
        enter(rk, rn)


def _parsed(ctx: _Ctx, kind: str, name: str) -> a.Expr | SegqlError:
    key = f"{kind}:{name}"
    got = ctx.parsed.get(key)
    if got is None:
        defn = ctx.schema.traits[name] if kind == "trait" else ctx.schema.segments[name]
        try:
            got = parse(defn.text, limits=ctx.limits)
        except SegqlError as e:
            got = e
        ctx.parsed[key] = got
    return got


def _references(ctx: _Ctx, kind: str, name: str) -> list[tuple[str, str]]:
    """The traits and segments a definition refers to (as the checker resolves names,
    outside event conditions), in source order."""
    tree = _parsed(ctx, kind, name)
    if isinstance(tree, SegqlError):
        return []
    schema = ctx.schema
    out: list[tuple[str, str]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        match node:
            case a.Name(parts=(only,)) if only not in schema.entity.fields:
                if only in schema.traits:
                    out.append(("trait", only))
            case a.InSegment(name=seg) if seg in schema.segments:
                out.append(("segment", seg))
            case a.Aggregate() | a.Has():
                pass  # event conditions refer to the events' own fields
            case _:
                stack.extend(reversed(a.children(node)))
    return out


def _check_one(ctx: _Ctx, kind: str, name: str, tstack: list[str], sstack: list[str]) -> None:
    """Check one definition (``name`` on top of its stack), cache it or mark it broken."""
    schema = ctx.schema
    is_trait = kind == "trait"
    defn = schema.traits[name] if is_trait else schema.segments[name]
    local: list[Diagnostic] = []
    sub = _Ctx(
        schema=schema,
        diags=local,
        trait_stack=tstack,
        segment_stack=sstack,
        broken=ctx.broken,
        limits=ctx.limits,
        parsed=ctx.parsed,
    )
    out: ir.TExpr | None = None
    tree = _parsed(ctx, kind, name)
    if isinstance(tree, SegqlError):
        local.extend(tree.diagnostics)
    else:
        try:
            out = _expr(sub, tree) if is_trait else _segment_root(sub, tree)
        except RecursionError:
            out = None
            local.append(_too_deep(tree.span, f"{kind} `{name}`"))
        if out is not None and not any(d.is_error for d in local):
            problem = dag.cost_problem(
                out,
                ctx.limits,
                what=f"{kind} `{name}`",
                span=tree.span,
                traits=schema.traits_ir,
            )
            if problem is not None:
                local.append(problem)
    ctx.diags.extend(_place(local, defn.where, defn.text, f"<{kind} {name}>"))
    if out is None or any(d.is_error for d in local):
        ctx.broken.add(f"{kind}:{name}")
    else:
        (schema.traits_ir if is_trait else schema.segments_ir)[name] = out


# ---------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------


def _expr(ctx: _Ctx, e: a.Expr) -> ir.TExpr | None:
    match e:
        case a.IntLit(value=v):
            if v > _INT64_MAX:
                ctx.error(
                    "out-of-range",
                    f"`{_short(str(v))}` is too large: integers are 64-bit on every engine "
                    f"(at most {_INT64_MAX:,})",
                    e.span,
                    "write it as a decimal (`….0`) if you need a larger number",
                )
                return None
            return ir.Lit(value=v, type=Type.INTEGER, span=e.span)
        case a.DecimalLit(value=v):
            digits = _decimal_digits(v)
            if digits > _DECIMAL_DIGITS:
                ctx.error(
                    "out-of-range",
                    f"`{_short(format_expr(e))}` has {digits:,} digits; decimals have at most "
                    f"{_DECIMAL_DIGITS}, what DECIMAL(38) holds exactly on every engine",
                    e.span,
                    "drop digits that do not matter, or use a float field for very large or "
                    "very small values",
                )
                return None
            return ir.Lit(value=v, type=Type.DECIMAL, span=e.span)
        case a.StringLit(value=v):
            bad = unsafe_char(v)
            if bad is not None:
                ctx.error(
                    "invalid-character",
                    f"this string contains {bad}, which SQL text cannot carry",
                    e.span,
                    "remove it; NUL and lone surrogates are not characters engines store",
                )
                return None
            return ir.Lit(value=v, type=Type.STRING, span=e.span)
        case a.BoolLit(value=v):
            return ir.Lit(value=v, type=Type.BOOLEAN, span=e.span)
        case a.NullLit():
            return ir.Lit(value=None, type=Type.NULL, span=e.span)
        case a.DateLit(value=v):
            try:
                timecalc.date_to_timestamp(v, ctx.schema.tz, e.span)
            except CheckError as err:
                ctx.diags.extend(err.diagnostics)
                return None
            return ir.Lit(value=v, type=Type.DATE, span=e.span)
        case a.TimestampLit(value=v):
            tz = ctx.schema.tz
            if v.tzinfo is None:
                v = v.replace(tzinfo=tz)
            try:
                utc = v.astimezone(dt.UTC)
                utc.astimezone(tz)  # its wall-clock time in the schema zone exists too
            except (OverflowError, ValueError):
                ctx.error(
                    "out-of-range",
                    f"`{format_expr(e)}` is outside the times segql handles",
                    e.span,
                    timecalc.RANGE_TEXT,
                )
                return None
            return ir.Lit(value=utc, type=Type.TIMESTAMP, span=e.span)
        case a.DurationLit():
            ctx.error(
                "misplaced-duration",
                f"a duration like `{format_expr(e)}` can only be compared with a date or "
                "timestamp, or used with `within` and `ago`",
                e.span,
                f"e.g. `last_order < {format_expr(e)}` (less than {format_expr(e)} ago) or "
                f"`signup_at > {format_expr(e)} ago`",
            )
            return None
        case a.ListLit():
            ctx.error(
                "misplaced-list",
                "a list can only follow `in` or `not in`",
                e.span,
                "e.g. `country in ['DE', 'AT']`",
            )
            return None
        case a.Name():
            for part in e.parts:
                bad = unsafe_char(part)
                if bad is not None:
                    ctx.error(
                        "invalid-character",
                        f"this name contains {bad}, which SQL text cannot carry",
                        e.span,
                    )
                    return None
            return _name(ctx, e)
        case a.Now():
            return ir.Now(span=e.span)
        case a.Today():
            return ir.Today(span=e.span)
        case a.Ago(duration=d):
            return ir.Ago(duration=_dur(ctx, d), span=e.span)
        case a.Neg(operand=o):
            x = _expr(ctx, o)
            if x is None:
                return None
            if not _numeric_or_null(x):
                ctx.error(
                    "type-mismatch",
                    f"`-` needs a number, but {_describe(o)} is {_a(x.type)}",
                    e.span,
                )
                return None
            return ir.Neg(operand=x, type=_num(x.type), span=e.span)
        case a.Not(operand=o):
            x = _bool(ctx, o, "not")
            return None if x is None else ir.Not(operand=x, span=e.span)
        case a.BoolOp(op=op, operands=ops):
            outs = [_bool(ctx, o, op.value) for o in ops]
            if any(x is None for x in outs):
                return None
            return ir.BoolOp(op=op, operands=tuple(x for x in outs if x is not None), span=e.span)
        case a.Arith():
            return _arith(ctx, e)
        case a.Compare():
            return _compare(ctx, e)
        case a.Between():
            return _between(ctx, e)
        case a.InList():
            return _in_list(ctx, e)
        case a.IsNull(operand=o, negated=neg):
            x = _expr(ctx, o)
            return None if x is None else ir.IsNull(operand=x, negated=neg, span=e.span)
        case a.Match():
            return _match(ctx, e)
        case a.Within(operand=o, duration=d):
            x = _expr(ctx, o)
            if x is None:
                return None
            if not x.type.is_temporal and x.type is not Type.NULL:
                ctx.error(
                    "type-mismatch",
                    f"`within` needs a date or timestamp, but {_describe(o)} is {_a(x.type)}",
                    o.span,
                    *(_within_hint(x)),
                )
                return None
            return ir.Within(operand=_to_ts(x), duration=_dur(ctx, d), span=e.span)
        case a.Call():
            return _call(ctx, e)
        case a.Aggregate():
            return _aggregate(ctx, e)
        case a.Has():
            return _has(ctx, e)
        case a.InSegment(name=n):
            return _in_segment(ctx, e, n)
        case a.Top():
            return _top(ctx, e)
    raise AssertionError(f"unhandled node {e!r}")  # pragma: no cover


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


def _bool(ctx: _Ctx, e: a.Expr, op: str) -> ir.TExpr | None:
    x = _expr(ctx, e)
    if x is None:
        return None
    if x.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "type-mismatch",
            f"`{op}` needs conditions, but {_describe(e)} is {_a(x.type)}",
            e.span,
            *_boolean_hint(x.type),
        )
        return None
    return x


# --- names ---------------------------------------------------------------------------


def _name(ctx: _Ctx, e: a.Name) -> ir.TExpr | None:
    schema = ctx.schema
    parts = e.parts
    shown = e.dotted
    if ctx.stream is not None:
        stream = ctx.stream
        if len(parts) == 2 and parts[0] == stream.name:
            parts = parts[1:]
        if len(parts) == 1:
            fname = parts[0]
            fd = stream.fields.get(fname)
            if fd is not None:
                return ir.EventField(
                    stream=stream.name, name=fname, column=fd.column, type=fd.type, span=e.span
                )
            if fname == stream.time:
                return ir.EventField(
                    stream=stream.name,
                    name=fname,
                    column=stream.time,
                    type=Type.TIMESTAMP,
                    span=e.span,
                )
            where = "the stream filter" if ctx.in_filter else f"`where` of `{stream.name}`"
            if fname in schema.entity.fields or fname in schema.traits:
                kind = "field" if fname in schema.entity.fields else "trait"
                ctx.error(
                    "wrong-scope",
                    f"`{shown}` is a profile {kind}; inside {where} names refer to the "
                    f"fields of each `{stream.name}` event",
                    e.span,
                    f"fields of `{stream.name}`: " + ", ".join(sorted(stream.fields)),
                    "move the profile condition outside the aggregate, joined with `and`",
                )
                return None
            ctx.error(
                "unknown-name",
                f"`{stream.name}` has no field `{shown}`",
                e.span,
                *_did_you_mean(fname, [*stream.fields, stream.time]),
            )
            return None
        other = schema.streams.get(parts[0])
        if other is not None and len(parts) == 2:
            ctx.error(
                "wrong-scope",
                f"`{shown}` is a field of `{other.name}`, but this condition is about "
                f"`{stream.name}` events",
                e.span,
                f"use `{parts[1]}` for the field of `{stream.name}`",
            )
            return None
        ctx.error("unknown-name", f"`{stream.name}` has no field `{shown}`", e.span)
        return None
    if len(parts) == 1:
        n = parts[0]
        fd = schema.entity.fields.get(n)
        if fd is not None:
            return ir.Field(name=n, column=fd.column, type=fd.type, span=e.span)
        if n in schema.traits:
            return _trait(ctx, n, e.span)
        if n in schema.streams:
            ctx.error(
                "misplaced-stream",
                f"`{n}` is an event stream; use it inside an aggregate",
                e.span,
                f"e.g. `count({quote_name(n)}) > 0`, `has {quote_name(n)}`, or "
                f"`last({quote_name(n)}) < 30d`",
            )
            return None
        if n in schema.segments:
            ctx.error(
                "misplaced-segment",
                f"`{n}` is a segment; refer to it as `in segment {quote_name(n)}`",
                e.span,
            )
            return None
        ctx.error(
            "unknown-name",
            f"unknown name `{n}`",
            e.span,
            *_did_you_mean(n, [*schema.entity.fields, *schema.traits, *schema.streams]),
        )
        return None
    owner = schema.streams.get(parts[0])
    if owner is not None and len(parts) == 2:
        if parts[1] in owner.fields or parts[1] == owner.time:
            ctx.error(
                "misplaced-event-field",
                f"`{shown}` is a field of each `{owner.name}` event; use it inside an aggregate",
                e.span,
                f"e.g. `sum({shown}) > 100` or `count({owner.name} where {parts[1]} = …)`",
            )
        else:
            ctx.error(
                "unknown-name",
                f"`{owner.name}` has no field `{parts[1]}`",
                e.span,
                *_did_you_mean(parts[1], owner.fields),
            )
        return None
    ctx.error(
        "unknown-name",
        f"unknown name `{shown}`",
        e.span,
        *_did_you_mean(parts[0], schema.streams),
    )
    return None


# --- operators -------------------------------------------------------------------------


def _arith(ctx: _Ctx, e: a.Arith) -> ir.TExpr | None:
    x = _expr(ctx, e.left)
    y = _expr(ctx, e.right)
    if x is None or y is None:
        return None
    for side, t in ((e.left, x), (e.right, y)):
        if not _numeric_or_null(t):
            hints: tuple[str, ...] = ()
            if t.type.is_temporal:
                hints = (
                    "for time arithmetic use `30d ago`, `days_since(x)`, or compare with a "
                    "duration such as `< 30d`",
                )
            elif t.type is Type.STRING and e.op is a.ArithOp.ADD:
                hints = ("segql has no string concatenation",)
            ctx.error(
                "type-mismatch",
                f"`{e.op.value}` needs numbers, but {_describe(side)} is {_a(t.type)}",
                side.span,
                *hints,
            )
            return None
    result = Type.FLOAT if e.op is a.ArithOp.DIV else common_numeric(_num(x.type), _num(y.type))
    return ir.Arith(op=e.op, left=x, right=y, type=result, span=e.span)


def _unify(
    ctx: _Ctx,
    what: str,
    pairs: Sequence[tuple[a.Expr, ir.TExpr]],
    span: Span,
    *,
    ordered: bool,
) -> list[ir.TExpr] | None:
    """Bring operands to one comparable type (widening), or report a mismatch."""
    types = {t.type for _, t in pairs if t.type is not Type.NULL}
    if not types:
        return [t for _, t in pairs]
    if all(t.is_numeric for t in types):
        return [t for _, t in pairs]
    if types <= {Type.DATE, Type.TIMESTAMP}:
        if len(types) == 2:
            return [_to_ts(t) for _, t in pairs]
        return [t for _, t in pairs]
    if len(types) == 1:
        (only,) = types
        if only.is_list:
            ctx.error(
                "type-mismatch",
                f"lists cannot be compared with {what}",
                span,
                "test elements with `contains`, e.g. `tags contains 'vip'`",
            )
            return None
        if ordered and only is Type.BOOLEAN:
            ctx.error(
                "type-mismatch",
                "true and false have no order; compare booleans with `=` or `!=`",
                span,
            )
            return None
        return [t for _, t in pairs]
    # A mismatch: name the first two different sides.
    first_e, first = next((s, t) for s, t in pairs if t.type is not Type.NULL)
    other_e, other = next(
        (s, t) for s, t in pairs if t.type is not Type.NULL and t.type is not first.type
    )
    hints = _mismatch_hints(first, other_e, other) or _mismatch_hints(other, first_e, first)
    message = (
        f"cannot compare {_describe(first_e)} ({first.type}) with {_describe(other_e)} "
        f"({other.type})"
        if what != "coalesce"
        else f"`coalesce` needs values of one type, but {_describe(first_e)} is "
        f"{_a(first.type)} and {_describe(other_e)} is {_a(other.type)}"
    )
    ctx.error(
        "type-mismatch",
        message,
        other_e.span,
        *hints,
    )
    return None


def _mismatch_hints(target: ir.TExpr, e: a.Expr, got: ir.TExpr) -> tuple[str, ...]:
    if target.type.is_temporal and isinstance(e, a.IntLit):
        return (
            f"did you mean `{e.value}d`? (a duration compares the age: less than "
            f"{e.value} days ago)",
        )
    if target.type.is_temporal and isinstance(e, a.StringLit):
        try:
            dt.date.fromisoformat(e.value)
            return (f"write the date without quotes: {e.value}",)
        except ValueError:
            try:
                dt.datetime.fromisoformat(e.value)
                return (f"write the timestamp without quotes: {e.value}",)
            except ValueError:
                return ()
    if target.type is Type.STRING and isinstance(e, a.IntLit | a.DecimalLit):
        return (f"quote it if you mean the text: '{format_expr(e)}'",)
    if target.type.is_numeric and isinstance(e, a.StringLit):
        try:
            Decimal(e.value)
            return (f"remove the quotes to compare numbers: {e.value}",)
        except ArithmeticError:
            return ()
    if target.type is Type.BOOLEAN and isinstance(e, a.StringLit | a.IntLit):
        return ("write `true` or `false`",)
    return ()


def _compare(ctx: _Ctx, e: a.Compare) -> ir.TExpr | None:
    left, right, op = e.left, e.right, e.op
    if isinstance(left, a.DurationLit) and not isinstance(right, a.DurationLit):
        left, right, op = right, left, _FLIP[op]
    if isinstance(right, a.DurationLit):
        return _age_compare(ctx, e, left, op, right)
    x = _expr(ctx, left)
    y = _expr(ctx, right)
    if x is None or y is None:
        return None
    if Type.NULL in (x.type, y.type):
        ctx.warn(
            "null-comparison",
            f"comparing with null is never true: {_describe(e)} is always unknown",
            e.span,
            "use `is null` or `is not null` to test for a missing value",
        )
    ordered = op not in (a.CmpOp.EQ, a.CmpOp.NE)
    got = _unify(ctx, f"`{op.value}`", [(left, x), (right, y)], e.span, ordered=ordered)
    if got is None:
        return None
    lx, ry = got
    _enum_check(ctx, x, right, y)
    _enum_check(ctx, y, left, x)
    return ir.Compare(op=op, left=lx, right=ry, span=e.span)


def _age_compare(
    ctx: _Ctx, e: a.Compare, operand: a.Expr, op: a.CmpOp, dur: a.DurationLit
) -> ir.TExpr | None:
    x = _expr(ctx, operand)
    if x is None:
        return None
    if not x.type.is_temporal and x.type is not Type.NULL:
        ctx.error(
            "type-mismatch",
            f"a duration compares the age of a date or timestamp, but {_describe(operand)} "
            f"is {_a(x.type)}",
            e.span,
            *(
                (f"compare numbers with numbers: `{format_expr(operand)} {op.value} {dur.amount}`",)
                if x.type.is_numeric
                else ()
            ),
        )
        return None
    if op in (a.CmpOp.EQ, a.CmpOp.NE):
        ctx.error(
            "type-mismatch",
            f"ages can only be compared with `<`, `<=`, `>` or `>=`, not `{op.value}`",
            e.span,
            f"e.g. `{format_expr(operand)} within {format_expr(dur)}`",
        )
        return None
    # Age < D  <=>  value > as_of - D (and so on): the younger, the later.
    return ir.Compare(
        op=_FLIP[op],
        left=_to_ts(x),
        right=ir.Ago(duration=_dur(ctx, dur), span=dur.span),
        span=e.span,
    )


def _between(ctx: _Ctx, e: a.Between) -> ir.TExpr | None:
    if isinstance(e.low, a.DurationLit) and isinstance(e.high, a.DurationLit):
        # An age range: `last_order between 30d and 90d` = between 90d ago and 30d ago.
        x = _expr(ctx, e.operand)
        if x is None:
            return None
        if not x.type.is_temporal and x.type is not Type.NULL:
            ctx.error(
                "type-mismatch",
                f"an age range needs a date or timestamp, but {_describe(e.operand)} is "
                f"{_a(x.type)}",
                e.operand.span,
            )
            return None
        return ir.Between(
            operand=_to_ts(x),
            low=ir.Ago(duration=_dur(ctx, e.high), span=e.high.span),
            high=ir.Ago(duration=_dur(ctx, e.low), span=e.low.span),
            span=e.span,
        )
    parts = [(s, _expr(ctx, s)) for s in (e.operand, e.low, e.high)]
    if any(t is None for _, t in parts):
        return None
    pairs = [(s, t) for s, t in parts if t is not None]
    got = _unify(ctx, "`between`", pairs, e.span, ordered=True)
    if got is None:
        return None
    for (s, t), (_, other) in ((pairs[1], pairs[0]), (pairs[2], pairs[0])):
        _enum_check(ctx, other, s, t)
    return ir.Between(operand=got[0], low=got[1], high=got[2], span=e.span)


def _in_list(ctx: _Ctx, e: a.InList) -> ir.TExpr | None:
    x = _expr(ctx, e.operand)
    items = [(s, _expr(ctx, s)) for s in e.items]
    if x is None or any(t is None for _, t in items):
        return None
    pairs = [(e.operand, x), *((s, t) for s, t in items if t is not None)]
    got = _unify(ctx, "`in`", pairs, e.span, ordered=False)
    if got is None:
        return None
    for s, t in items:
        assert t is not None
        _enum_check(ctx, x, s, t)
        if t.type is Type.NULL:
            ctx.warn(
                "null-in-list",
                "`null` in a list never matches"
                + (" and makes `not in` unknown for every contact" if e.negated else ""),
                s.span,
                "use `is null` to test for missing values",
            )
    return ir.InList(operand=got[0], items=tuple(got[1:]), negated=e.negated, span=e.span)


def _enum_check(ctx: _Ctx, target: ir.TExpr, e: a.Expr, lit: ir.TExpr) -> None:
    """Warn when a string literal is not among a field's declared values."""
    if not isinstance(lit, ir.Lit) or not isinstance(lit.value, str):
        return
    if isinstance(target, ir.Field):
        fd = ctx.schema.entity.fields.get(target.name)
    elif isinstance(target, ir.EventField):
        fd = ctx.schema.streams[target.stream].fields.get(target.name)
    else:
        return
    if fd is None or not fd.values or lit.value in fd.values:
        return
    hits = _suggest(lit.value, fd.values)
    hint = (
        "did you mean " + " or ".join(f"'{h}'" for h in hits) + "?"
        if hits
        else "known values: " + ", ".join(f"'{v}'" for v in fd.values[:12])
    )
    ctx.warn(
        "unknown-value",
        f"'{lit.value}' is not a known value of `{target.name}`",
        e.span,
        hint,
    )


def _match(ctx: _Ctx, e: a.Match) -> ir.TExpr | None:
    x = _expr(ctx, e.left)
    y = _expr(ctx, e.right)
    if x is None or y is None:
        return None
    word = e.op.value
    if e.op in (a.MatchOp.CONTAINS, a.MatchOp.NOT_CONTAINS) and x.type.is_list:
        elem = x.type.element
        if y.type is not Type.NULL and y.type is not elem:
            ctx.error(
                "type-mismatch",
                f"{_describe(e.left)} is a {x.type}, so `{word}` needs {_a(elem)}, but "
                f"{_describe(e.right)} is {_a(y.type)}",
                e.right.span,
            )
            return None
        _enum_check(ctx, x, e.right, y)
        node: ir.TExpr = ir.ListContains(list=x, item=y, span=e.span)
    else:
        for side, t in ((e.left, x), (e.right, y)):
            if t.type not in (Type.STRING, Type.NULL):
                ctx.error(
                    "type-mismatch",
                    f"`{word}` needs strings"
                    + (" or a list" if "contains" in word else "")
                    + f", but {_describe(side)} is {_a(t.type)}",
                    side.span,
                )
                return None
        op = {
            a.MatchOp.CONTAINS: ir.StrMatchOp.CONTAINS,
            a.MatchOp.NOT_CONTAINS: ir.StrMatchOp.CONTAINS,
            a.MatchOp.STARTS_WITH: ir.StrMatchOp.STARTS_WITH,
            a.MatchOp.ENDS_WITH: ir.StrMatchOp.ENDS_WITH,
        }[e.op]
        node = ir.StrMatch(op=op, left=x, right=y, span=e.span)
    if e.op is a.MatchOp.NOT_CONTAINS:
        return ir.Not(operand=node, span=e.span)
    return node


# --- functions and aggregates ------------------------------------------------------------


def _call(ctx: _Ctx, e: a.Call) -> ir.TExpr | None:
    name = e.func
    if name == "percentile":
        return _percentile(ctx, e)
    func = _FUNCS.get(name)
    if func is None:
        ctx.error(
            "unknown-function",
            f"unknown function `{name}`",
            e.span,
            *(_did_you_mean(name, _ALL_FUNCS) or ("functions: " + ", ".join(_ALL_FUNCS),)),
        )
        return None
    args = [_expr(ctx, x) for x in e.args]
    if any(x is None for x in args):
        return None
    targs = [x for x in args if x is not None]

    def arity(lo: int, hi: int) -> bool:
        if lo <= len(targs) <= hi:
            return True
        want = str(lo) if lo == hi else f"{lo} to {hi}" if hi < 99 else f"at least {lo}"
        ctx.error(
            "wrong-arguments",
            f"`{name}` takes {want} argument{'s' if hi != 1 else ''}, not {len(targs)}",
            e.span,
        )
        return False

    def need(i: int, ok: bool, what: str) -> bool:
        if ok or targs[i].type is Type.NULL:
            return True
        ctx.error(
            "type-mismatch",
            f"`{name}` needs {what}, but {_describe(e.args[i])} is {_a(targs[i].type)}",
            e.args[i].span,
        )
        return False

    F = ir.FuncName
    if func in (F.LOWER, F.UPPER, F.TRIM):
        if not arity(1, 1) or not need(0, targs[0].type is Type.STRING, "a string"):
            return None
        return ir.Func(func=func, args=tuple(targs), type=Type.STRING, span=e.span)
    if func is F.LENGTH:
        if not arity(1, 1):
            return None
        t = targs[0].type
        if not need(0, t is Type.STRING or t.is_list, "a string or a list"):
            return None
        return ir.Func(func=func, args=tuple(targs), type=Type.INTEGER, span=e.span)
    if func in (F.ABS, F.FLOOR, F.CEIL, F.ROUND):
        hi = 2 if func is F.ROUND else 1
        if not arity(1, hi) or not need(0, targs[0].type.is_numeric, "a number"):
            return None
        if len(targs) == 2:
            digits = _constant_int(e.args[1])
            if digits is None:
                ctx.error(
                    "wrong-arguments",
                    "the number of digits for `round` must be a whole number like `2`",
                    e.args[1].span,
                    "write the number itself, e.g. `round(x, 2)` or `round(x, -3)`",
                )
                return None
            if not -_ROUND_DIGITS <= digits <= _ROUND_DIGITS:
                ctx.error(
                    "out-of-range",
                    f"`round` takes from {-_ROUND_DIGITS} to {_ROUND_DIGITS} digits, not "
                    f"{_short(str(digits))}",
                    e.args[1].span,
                    "18 digits either side of the point cover every 64-bit integer and "
                    "DECIMAL(18) value",
                )
                return None
        rtype = _num(targs[0].type)
        if func in (F.FLOOR, F.CEIL) or (func is F.ROUND and len(targs) == 1):
            rtype = Type.INTEGER if rtype is Type.INTEGER else rtype
        return ir.Func(func=func, args=tuple(targs), type=rtype, span=e.span)
    if func is F.COALESCE:
        if not arity(1, 999):
            return None
        got = _unify(ctx, "coalesce", list(zip(e.args, targs, strict=True)), e.span, ordered=False)
        if got is None:
            return None
        types = {t.type for t in got if t.type is not Type.NULL}
        if not types:
            rtype = Type.NULL
        elif all(t.is_numeric for t in types):
            rtype = Type.INTEGER
            for t in types:
                rtype = common_numeric(rtype, t)
        elif types == {Type.DATE}:
            rtype = Type.DATE
        elif Type.TIMESTAMP in types:
            rtype = Type.TIMESTAMP
        else:
            (rtype,) = types
        return ir.Func(func=func, args=tuple(got), type=rtype, span=e.span)
    # Calendar functions: year month day weekday days_since days_until_anniversary.
    if not arity(1, 1) or not need(0, targs[0].type.is_temporal, "a date or timestamp"):
        return None
    return ir.Func(func=func, args=tuple(targs), type=Type.INTEGER, span=e.span)


def _constant_int(e: a.Expr) -> int | None:
    """The value of an integer literal, or of a negated one; None for anything else."""
    if isinstance(e, a.IntLit):
        return e.value
    if isinstance(e, a.Neg) and isinstance(e.operand, a.IntLit):
        return -e.operand.value
    return None


def _percentile(ctx: _Ctx, e: a.Call) -> ir.TExpr | None:
    if len(e.args) != 1:
        ctx.error("wrong-arguments", "`percentile` takes 1 argument", e.span)
        return None
    if ctx.stream is not None:
        ctx.error(
            "wrong-scope",
            "`percentile` ranks contacts; it cannot be used inside an event condition",
            e.span,
        )
        return None
    x = _expr(ctx, e.args[0])
    if x is None:
        return None
    if not (x.type.is_numeric or x.type.is_temporal):
        ctx.error(
            "type-mismatch",
            f"`percentile` needs a number, date or timestamp, but {_describe(e.args[0])} is "
            f"{_a(x.type)}",
            e.args[0].span,
        )
        return None
    return ir.Percentile(operand=_to_ts(x), span=e.span)


def _top(ctx: _Ctx, e: a.Top) -> ir.TExpr | None:
    pct = Decimal(e.percent.value)
    if not (0 < pct <= 100):
        ctx.error(
            "bad-percent",
            f"`top {format_expr(e.percent)}%` must be more than 0% and at most 100%",
            e.percent.span,
        )
        return None
    if _expr(ctx, e.percent) is None:  # the literal's range: exact on every engine
        return None
    rest = _WIDE.subtract(Decimal(100), pct)
    if _decimal_digits(rest) > _DECIMAL_DIGITS:
        # `top P%` compares ranks with 100 - P in SQL: that number must be exact too.
        ctx.error(
            "out-of-range",
            f"`top {_short(format_expr(e.percent))}%` has too many decimals: 100 minus it "
            f"needs {_decimal_digits(rest)} digits, and decimals have at most {_DECIMAL_DIGITS}",
            e.percent.span,
            "drop decimals that do not matter",
        )
        return None
    if ctx.stream is not None:
        ctx.error("wrong-scope", "`top … by` ranks contacts, not events", e.span)
        return None
    x = _expr(ctx, e.by)
    if x is None:
        return None
    if not (x.type.is_numeric or x.type.is_temporal):
        ctx.error(
            "type-mismatch",
            f"`top … by` needs a number, date or timestamp, but {_describe(e.by)} is {_a(x.type)}",
            e.by.span,
        )
        return None
    return ir.TopPercent(percent=pct, operand=_to_ts(x), span=e.span)


def _stream_of(ctx: _Ctx, target: a.Name, func: str) -> Stream | None:
    schema = ctx.schema
    head = target.parts[0]
    stream = schema.streams.get(head)
    if stream is not None:
        return stream
    if head in schema.entity.fields or head in schema.traits:
        ctx.error(
            "not-a-stream",
            f"`{head}` is a profile {'field' if head in schema.entity.fields else 'trait'}, "
            f"not an event stream; `{func}` aggregates events",
            target.span,
            "event streams: " + ", ".join(sorted(schema.streams)),
        )
        return None
    ctx.error(
        "unknown-stream",
        f"unknown event stream `{head}`",
        target.span,
        *(_did_you_mean(head, schema.streams) or ("event streams: " + ", ".join(schema.streams),)),
    )
    return None


def _aggregate(ctx: _Ctx, e: a.Aggregate) -> ir.TExpr | None:
    if ctx.stream is not None:
        ctx.error(
            "nested-aggregate",
            f"`{e.func}(…)` cannot be used inside another event condition",
            e.span,
            "aggregates look at all of a contact's events; conditions inside `where` look "
            "at one event",
        )
        return None
    func = ir.AggFunc(e.func)
    stream = _stream_of(ctx, e.target, e.func)
    if stream is None:
        return None
    parts = e.target.parts
    column: str | None = None
    ftype: Type | None = None
    if func in (ir.AggFunc.COUNT, ir.AggFunc.FIRST, ir.AggFunc.LAST):
        if len(parts) != 1:
            hint = (
                f"`count({stream.name})` counts events; `count_distinct({e.target.dotted})` "
                "counts distinct values"
                if func is ir.AggFunc.COUNT
                else f"`{e.func}({stream.name})` is the time of the "
                f"{'earliest' if func is ir.AggFunc.FIRST else 'latest'} event"
            )
            ctx.error(
                "bad-aggregate",
                f"`{e.func}` takes an event stream, not a field",
                e.target.span,
                hint,
            )
            return None
    else:
        if len(parts) != 2:
            fields = [
                f
                for f, d in stream.fields.items()
                if func not in (ir.AggFunc.SUM, ir.AggFunc.AVG) or d.type.is_numeric
            ]
            ctx.error(
                "bad-aggregate",
                f"`{e.func}` needs a field of `{stream.name}`, e.g. "
                f"`{e.func}({stream.name}.{fields[0] if fields else 'amount'})`",
                e.target.span,
                *(("fields: " + ", ".join(sorted(fields)),) if fields else ()),
            )
            return None
        fname = parts[1]
        fd = stream.fields.get(fname)
        if fd is None and fname == stream.time:
            column, ftype = stream.time, Type.TIMESTAMP
        elif fd is None:
            ctx.error(
                "unknown-name",
                f"`{stream.name}` has no field `{fname}`",
                e.target.span,
                *_did_you_mean(fname, stream.fields),
            )
            return None
        else:
            column, ftype = fd.column, fd.type
        assert ftype is not None
        if func in (ir.AggFunc.SUM, ir.AggFunc.AVG) and not ftype.is_numeric:
            ctx.error(
                "type-mismatch",
                f"`{e.func}` needs a number, but `{e.target.dotted}` is {_a(ftype)}",
                e.target.span,
            )
            return None
        if func in (ir.AggFunc.MIN, ir.AggFunc.MAX) and (ftype.is_list or ftype is Type.BOOLEAN):
            ctx.error(
                "type-mismatch",
                f"`{e.func}` needs a number, string, date or timestamp, but "
                f"`{e.target.dotted}` is {_a(ftype)}",
                e.target.span,
            )
            return None
        if func is ir.AggFunc.COUNT_DISTINCT and ftype.is_list:
            ctx.error(
                "type-mismatch",
                f"`count_distinct` cannot count lists (`{e.target.dotted}` is {_a(ftype)})",
                e.target.span,
            )
            return None
    where = _event_where(ctx, stream, e.where)
    if e.where is not None and where is None:
        return None
    rtype: Type
    if func in (ir.AggFunc.COUNT, ir.AggFunc.COUNT_DISTINCT):
        rtype = Type.INTEGER
    elif func in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
        rtype = Type.TIMESTAMP
    elif func is ir.AggFunc.AVG:
        rtype = Type.FLOAT
    else:
        assert ftype is not None
        rtype = ftype
    return ir.Agg(
        func=func,
        stream=stream.name,
        column=column,
        where=where,
        within=_dur(ctx, e.within) if e.within is not None else None,
        type=rtype,
        span=e.span,
    )


def _event_where(ctx: _Ctx, stream: Stream, cond: a.Expr | None) -> ir.TExpr | None:
    if cond is None:
        return None
    inner = ctx.inner(stream)
    x = _expr(inner, cond)
    if x is None:
        return None
    if x.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "not-boolean",
            f"`where` needs a condition, but {_describe(cond)} is {_a(x.type)}",
            cond.span,
            *_boolean_hint(x.type),
        )
        return None
    return x


def _has(ctx: _Ctx, e: a.Has) -> ir.TExpr | None:
    if ctx.stream is not None:
        ctx.error("nested-aggregate", "`has` cannot be used inside an event condition", e.span)
        return None
    if len(e.stream.parts) != 1:
        ctx.error(
            "bad-aggregate",
            "`has` takes an event stream, not a field",
            e.stream.span,
            f"e.g. `has {e.stream.parts[0]} where {e.stream.parts[-1]} is not null`",
        )
        return None
    stream = _stream_of(ctx, e.stream, "has")
    if stream is None:
        return None
    where = _event_where(ctx, stream, e.where)
    if e.where is not None and where is None:
        return None
    return ir.Exists(
        stream=stream.name,
        where=where,
        within=_dur(ctx, e.within) if e.within is not None else None,
        span=e.span,
    )


def _in_segment(ctx: _Ctx, e: a.InSegment, name: str) -> ir.TExpr | None:
    if ctx.stream is not None:
        where = "the stream filter" if ctx.in_filter else f"`where` of `{ctx.stream.name}`"
        ctx.error(
            "wrong-scope",
            f"`in segment` tests a contact, but inside {where} conditions are about each "
            f"`{ctx.stream.name}` event",
            e.span,
            "move the segment condition outside the aggregate, joined with `and`",
        )
        return None
    if name not in ctx.schema.segments:
        ctx.error(
            "unknown-segment",
            f"unknown segment `{name}`",
            e.span,
            *(
                _did_you_mean(name, ctx.schema.segments)
                or (
                    ("segments: " + ", ".join(sorted(ctx.schema.segments)),)
                    if ctx.schema.segments
                    else ("no segments are defined; add them under `segments:` in a catalog",)
                )
            ),
        )
        return None
    body = _segment(ctx, name, e.span)
    if body is None:
        return None
    return ir.IsTrue(operand=body, segment=name, span=e.span)
