"""Building the syntax tree (:mod:`segql.lang.ast`) in the parser's reduce callbacks:
literals decoded and range-checked here, so no later stage sees a malformed one."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, NoReturn

from segql.core.diagnostics import Diagnostic, Span
from segql.lang import ast as a
from segql.lang.functions import AGGREGATES
from segql.lang.tokens import UNITS

__all__ = ["Builder", "Fail", "tok_span"]


class Fail(Exception):
    """Raised inside reduce callbacks; turned into a diagnostic by :func:`parse`."""

    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


def tok_span(tok: Any) -> Span:
    return Span(
        start=tok.start_pos,
        end=tok.end_pos,
        line=tok.line,
        column=tok.column,
        end_line=tok.end_line,
        end_column=tok.end_column,
    )


# Calendar functions an aggregate may apply to its field (CONTRACT §5.1): distinct active
# days, weeks or months are `count_distinct(date(sessions.started_at))`.
CALENDAR = frozenset(
    {"date", "start_of_week", "start_of_month", "start_of_year", "year", "month", "day",
     "weekday"}
)  # fmt: skip


def _span_of(x: Any) -> Span:
    return x.span if hasattr(x, "span") else tok_span(x)


def _cover(first: Any, last: Any) -> Span:
    return _span_of(first).cover(_span_of(last))


def _fail(code: str, message: str, span: Span, *hints: str) -> NoReturn:
    raise Fail(Diagnostic(code=code, message=message, span=span, hints=hints))


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _unescape(tok: Any) -> str:
    raw: str = tok.value
    quote = raw[0]
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == quote:  # doubled quote
            out.append(quote)
            i += 2
            continue
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
            code = int(body[i + 2 : i + 6], 16)
            if 0xD800 <= code <= 0xDFFF:
                start = tok.start_pos + 1 + i
                _fail(
                    "invalid-escape",
                    f"`\\u{body[i + 2 : i + 6]}` is a surrogate, not a character",
                    Span(
                        start=start,
                        end=start + 6,
                        line=tok.line,
                        column=tok.column + 1 + i,
                        end_line=tok.line,
                        end_column=tok.column + 7 + i,
                    ),
                )
            out.append(chr(code))
            i += 6
        else:
            start = tok.start_pos + 1 + i
            width = 2
            problem = "unknown escape"
            if nxt == "u":  # `\u12'`, `\uZZ`: cover only what is there
                hexes = re.match(r"[0-9A-Fa-f]{0,3}", body[i + 2 :])
                width += len(hexes.group(0)) if hexes else 0
                problem = "incomplete escape"
            _fail(
                "invalid-escape",
                f"{problem} `{body[i : i + width]}` in string",
                Span(
                    start=start,
                    end=start + width,
                    line=tok.line,
                    column=tok.column + 1 + i,
                    end_line=tok.line,
                    end_column=tok.column + 1 + i + width,
                ),
                "escapes are \\\\ \\' \\\" \\n \\t \\r \\0 and \\uXXXX (four hex digits)",
            )
    return "".join(out)


def _ident_value(tok: Any) -> str:
    if tok.type == "QUOTED_NAME":
        return str(tok.value[1:-1].replace("``", "`"))
    return str(tok.value)


def _int(tok: Any, digits: str | None = None) -> int:
    text = (tok.value if digits is None else digits).replace("_", "")
    try:
        return int(text)
    except ValueError:  # Python refuses int() of more than 4,300 digits
        _fail(
            "invalid-number",
            f"this number has {len(text):,} digits; that is too many",
            tok_span(tok),
        )


def _duration(tok: Any) -> a.DurationLit:
    m = re.fullmatch(r"([\d_]+)([a-z]+)", tok.value)
    assert m is not None
    amount = _int(tok, m.group(1))
    if amount == 0:
        _fail(
            "invalid-duration",
            "a duration must be a positive number of units",
            tok_span(tok),
            "remove the condition, or use a positive duration such as `1d`",
        )
    return a.DurationLit(amount=amount, unit=UNITS[m.group(2)], span=tok_span(tok))


_TZ_RE = re.compile(r"([+-])(\d{2}):(\d{2})\Z")


class Builder:
    """Reduce callbacks for the LALR parser (one per grammar rule or alias)."""

    # --- boolean structure ---
    def or_expr(self, c: list[Any]) -> a.Expr:
        return self._boolop(a.BoolOpKind.OR, c)

    def and_expr(self, c: list[Any]) -> a.Expr:
        return self._boolop(a.BoolOpKind.AND, c)

    cond_or = or_expr
    cond_and = and_expr

    @staticmethod
    def _boolop(kind: a.BoolOpKind, c: list[Any]) -> a.Expr:
        ops: list[a.Expr] = []
        for x in c:
            if isinstance(x, a.BoolOp) and x.op is kind:  # associative: always flatten
                ops.extend(x.operands)
            else:
                ops.append(x)
        return a.BoolOp(op=kind, operands=tuple(ops), span=_cover(c[0], c[-1]))

    def not_(self, c: list[Any]) -> a.Expr:
        return a.Not(operand=c[1], span=_cover(c[0], c[1]))

    # --- predicates ---
    def compare(self, c: list[Any]) -> a.Expr:
        left, op, right = c
        return a.Compare(op=a.CmpOp(op), left=left, right=right, span=_cover(left, right))

    def cmp_op(self, c: list[Any]) -> str:
        return str(c[0].value)

    def between(self, c: list[Any]) -> a.Expr:
        return a.Between(operand=c[0], low=c[1], high=c[2], span=_cover(c[0], c[2]))

    def in_list(self, c: list[Any]) -> a.Expr:
        items, end = c[2]
        return a.InList(operand=c[0], items=items, span=_span_of(c[0]).cover(end))

    def not_in_list(self, c: list[Any]) -> a.Expr:
        items, end = c[3]
        return a.InList(operand=c[0], items=items, negated=True, span=_span_of(c[0]).cover(end))

    def in_items(self, c: list[Any]) -> tuple[tuple[a.Expr, ...], Span]:
        lst: a.ListLit = c[0]
        return lst.items, lst.span

    def tuple_items(self, c: list[Any]) -> tuple[tuple[a.Expr, ...], Span]:
        return tuple(c[1]), _cover(c[0], c[2])

    def is_null(self, c: list[Any]) -> a.Expr:
        return a.IsNull(operand=c[0], span=_cover(c[0], c[1]))

    def is_not_null(self, c: list[Any]) -> a.Expr:
        return a.IsNull(operand=c[0], negated=True, span=_cover(c[0], c[2]))

    def _match(self, op: a.MatchOp, c: list[Any]) -> a.Expr:
        return a.Match(op=op, left=c[0], right=c[-1], span=_cover(c[0], c[-1]))

    def contains(self, c: list[Any]) -> a.Expr:
        return self._match(a.MatchOp.CONTAINS, c)

    def not_contains(self, c: list[Any]) -> a.Expr:
        return self._match(a.MatchOp.NOT_CONTAINS, c)

    def contains_quantified(self, c: list[Any]) -> a.Expr:
        # `any` and `all` are words only here (a field may still be called `any`)
        word = str(c[1]).lower()
        if word not in ("any", "all"):
            _fail(
                "syntax",
                f"`contains {c[1]} [...]`: after `contains`, a list needs `any` or `all`",
                tok_span(c[1]),
                "`contains any [...]`: some item is an element; `contains all [...]`: every "
                "item is",
            )
        op = a.MatchOp.CONTAINS_ANY if word == "any" else a.MatchOp.CONTAINS_ALL
        return self._match(op, c)

    def starts_with(self, c: list[Any]) -> a.Expr:
        return self._match(a.MatchOp.STARTS_WITH, c)

    def ends_with(self, c: list[Any]) -> a.Expr:
        return self._match(a.MatchOp.ENDS_WITH, c)

    def within(self, c: list[Any]) -> a.Expr:
        return a.Within(operand=c[0], duration=c[1], span=_cover(c[0], c[1]))

    # --- arithmetic ---
    def arith(self, c: list[Any]) -> a.Expr:
        left, op, right = c
        return a.Arith(op=a.ArithOp(op.value), left=left, right=right, span=_cover(left, right))

    def neg(self, c: list[Any]) -> a.Expr:
        operand = c[1]
        span = _cover(c[0], operand)
        if isinstance(operand, a.DurationLit):
            d = operand
            _fail(
                "negative-duration",
                f"durations cannot be negative: `-{d.amount}{d.unit.value}`",
                span,
                f"to mean a time in the past, write `{d.amount}{d.unit.value} ago`",
            )
        return a.Neg(operand=operand, span=span)

    # --- primaries ---
    def paren(self, c: list[Any]) -> a.Expr:
        return c[1]  # type: ignore[no-any-return]

    def now(self, c: list[Any]) -> a.Expr:
        return a.Now(span=tok_span(c[0]))

    def today(self, c: list[Any]) -> a.Expr:
        return a.Today(span=tok_span(c[0]))

    def ago(self, c: list[Any]) -> a.Expr:
        return a.Ago(duration=c[0], span=_cover(c[0], c[1]))

    def int_lit(self, c: list[Any]) -> a.Expr:
        return a.IntLit(value=_int(c[0]), span=tok_span(c[0]))

    def decimal_lit(self, c: list[Any]) -> a.Expr:
        return a.DecimalLit(value=Decimal(c[0].value.replace("_", "")), span=tok_span(c[0]))

    def string_lit(self, c: list[Any]) -> a.Expr:
        return a.StringLit(value=_unescape(c[0]), span=tok_span(c[0]))

    def true_lit(self, c: list[Any]) -> a.Expr:
        return a.BoolLit(value=True, span=tok_span(c[0]))

    def false_lit(self, c: list[Any]) -> a.Expr:
        return a.BoolLit(value=False, span=tok_span(c[0]))

    def null_lit(self, c: list[Any]) -> a.Expr:
        return a.NullLit(span=tok_span(c[0]))

    def date_lit(self, c: list[Any]) -> a.Expr:
        tok = c[0]
        try:
            value = dt.date.fromisoformat(tok.value)
        except ValueError:
            _fail(
                "invalid-date",
                f"`{tok.value}` is not a valid date",
                tok_span(tok),
                "dates are written YYYY-MM-DD with a real month and day",
            )
        return a.DateLit(value=value, span=tok_span(tok))

    def timestamp_lit(self, c: list[Any]) -> a.Expr:
        tok = c[0]
        text: str = tok.value
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if value.tzinfo is not None:
                off = value.utcoffset()
                assert off is not None
                value = value.replace(tzinfo=dt.UTC if not off else dt.timezone(off))
        except ValueError:
            _fail(
                "invalid-timestamp",
                f"`{text}` is not a valid timestamp",
                tok_span(tok),
                "timestamps are written YYYY-MM-DDTHH:MM[:SS[.ffffff]] with an optional "
                "`Z` or `+HH:MM`",
            )
        return a.TimestampLit(value=value, span=tok_span(tok))

    def duration(self, c: list[Any]) -> a.DurationLit:
        return _duration(c[0])

    def list_lit(self, c: list[Any]) -> a.Expr:
        items = tuple(c[1]) if c[1] is not None else ()
        return a.ListLit(items=items, span=_cover(c[0], c[-1]))

    def items(self, c: list[Any]) -> list[a.Expr]:
        return [x for x in c if not _is_token(x)]

    def ident(self, c: list[Any]) -> Any:
        return c[0]

    def name(self, c: list[Any]) -> a.Expr:
        toks = [x for x in c if x.type != "DOT"]
        return a.Name(parts=tuple(_ident_value(t) for t in toks), span=_cover(toks[0], toks[-1]))

    def args(self, c: list[Any]) -> list[a.Expr]:
        return [x for x in c if not _is_token(x)]

    def where_clause(self, c: list[Any]) -> a.Expr:
        return c[0]  # type: ignore[no-any-return]

    def has_where(self, c: list[Any]) -> a.Expr:
        return c[0]  # type: ignore[no-any-return]

    def within_clause(self, c: list[Any]) -> a.DurationLit:
        return c[0]  # type: ignore[no-any-return]

    def call(self, c: list[Any]) -> a.Expr:
        name_tok, _lpar, args, where, within, rpar = c
        func = str(name_tok.value).lower()
        args = list(args or [])
        span = _cover(name_tok, rpar)
        if func in AGGREGATES:
            calendar = None
            if (
                len(args) == 1
                and isinstance(args[0], a.Call)
                and args[0].func in CALENDAR
                and len(args[0].args) == 1
                and isinstance(args[0].args[0], a.Name)
                and func not in ("count", "first", "last")
            ):
                calendar, args = args[0].func, [args[0].args[0]]
            if len(args) != 1 or not isinstance(args[0], a.Name):
                _fail(
                    "bad-aggregate",
                    f"`{func}` takes one event stream"
                    + (" field" if func not in ("count", "first", "last") else ""),
                    span,
                    f"write e.g. `{func}(orders)`"
                    if func in ("count", "first", "last")
                    else f"write e.g. `{func}(orders.amount)`",
                )
            return a.Aggregate(
                func=func,
                target=args[0],
                where=where,
                within=within,
                calendar=calendar,
                span=span,
            )
        if where is not None or within is not None:
            clause = "where" if where is not None else "within"
            _fail(
                "misplaced-clause",
                f"`{clause}` is only allowed inside an aggregate such as `count(...)`, "
                f"not in `{func}(...)`",
                _span_of(where if where is not None else within),
                "aggregates are " + ", ".join(sorted(AGGREGATES)),
            )
        return a.Call(func=func, args=tuple(args), span=span)

    def has(self, c: list[Any]) -> a.Expr:
        kw, stream, where, within, then = c
        last = then or within or where or stream
        return a.Has(stream=stream, where=where, within=within, then=then, span=_cover(kw, last))

    def followed(self, c: list[Any]) -> a.FollowedBy:
        kw, stream, where, within = c
        last = within or where or stream
        return a.FollowedBy(
            negated=kw.type == "NOT_FOLLOWED",
            stream=stream,
            where=where,
            within=within,
            span=_cover(kw, last),
        )

    def in_segment(self, c: list[Any]) -> a.Expr:
        return a.InSegment(name=_ident_value(c[2]), span=_cover(c[0], c[2]))

    def top(self, c: list[Any]) -> a.Expr:
        kw, num, _pct, by = c
        if num.type == "INT":
            pct: a.IntLit | a.DecimalLit = a.IntLit(value=_int(num), span=tok_span(num))
        else:
            pct = a.DecimalLit(value=Decimal(num.value.replace("_", "")), span=tok_span(num))
        return a.Top(percent=pct, by=by, span=_cover(kw, by))


def _is_token(x: Any) -> bool:
    return hasattr(x, "type") and hasattr(x, "start_pos")
