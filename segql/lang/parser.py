"""Parsing: text -> :mod:`segql.ast`, with diagnostics that speak segql.

The Lark LALR parser is built once per process from ``segql/lang/segql.lark`` (shipped inside
the package). Tree construction happens in the parser's reduce callbacks, so it is
iterative: no stage here is bounded by Python's recursion limit. Limits (CONTRACT §3.8) are
enforced here, before any recursive stage can see the tree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import unicodedata
from decimal import Decimal
from importlib import resources
from typing import Any, NoReturn

from segql.core.diagnostics import Diagnostic, LimitError, Span, SyntaxErrorDiagnostic, span_at
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.lang import ast as a
from segql.lang.functions import AGGREGATES

__all__ = ["grammar_text", "measure", "parse"]

KEYWORDS = frozenset(
    [
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "true",
        "false",
        "between",
        "contains",
        "starts",
        "ends",
        "with",
        "within",
        "where",
        "has",
        "segment",
        "top",
        "by",
        "ago",
        "now",
        "today",
    ]
)
UNITS = {u.value: u for u in a.DurationUnit}
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def grammar_text() -> str:
    """The one grammar, shipped as package data next to this module."""
    return resources.files("segql.lang").joinpath("segql.lark").read_text(encoding="utf-8")


class _Fail(Exception):
    """Raised inside reduce callbacks; turned into a diagnostic by :func:`parse`."""

    def __init__(self, diag: Diagnostic) -> None:
        self.diag = diag


def _tok_span(tok: Any) -> Span:
    return Span(
        start=tok.start_pos,
        end=tok.end_pos,
        line=tok.line,
        column=tok.column,
        end_line=tok.end_line,
        end_column=tok.end_column,
    )


def _span_of(x: Any) -> Span:
    return x.span if hasattr(x, "span") else _tok_span(x)


def _cover(first: Any, last: Any) -> Span:
    return _span_of(first).cover(_span_of(last))


def _fail(code: str, message: str, span: Span, *hints: str) -> NoReturn:
    raise _Fail(Diagnostic(code=code, message=message, span=span, hints=hints))


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
            _tok_span(tok),
        )


def _duration(tok: Any) -> a.DurationLit:
    m = re.fullmatch(r"([\d_]+)([a-z]+)", tok.value)
    assert m is not None
    amount = _int(tok, m.group(1))
    if amount == 0:
        _fail(
            "invalid-duration",
            "a duration must be a positive number of units",
            _tok_span(tok),
            "remove the condition, or use a positive duration such as `1d`",
        )
    return a.DurationLit(amount=amount, unit=UNITS[m.group(2)], span=_tok_span(tok))


_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_TZ_RE = re.compile(r"([+-])(\d{2}):(\d{2})\Z")


class _Builder:
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
        return a.Now(span=_tok_span(c[0]))

    def today(self, c: list[Any]) -> a.Expr:
        return a.Today(span=_tok_span(c[0]))

    def ago(self, c: list[Any]) -> a.Expr:
        return a.Ago(duration=c[0], span=_cover(c[0], c[1]))

    def int_lit(self, c: list[Any]) -> a.Expr:
        return a.IntLit(value=_int(c[0]), span=_tok_span(c[0]))

    def decimal_lit(self, c: list[Any]) -> a.Expr:
        return a.DecimalLit(value=Decimal(c[0].value.replace("_", "")), span=_tok_span(c[0]))

    def string_lit(self, c: list[Any]) -> a.Expr:
        return a.StringLit(value=_unescape(c[0]), span=_tok_span(c[0]))

    def true_lit(self, c: list[Any]) -> a.Expr:
        return a.BoolLit(value=True, span=_tok_span(c[0]))

    def false_lit(self, c: list[Any]) -> a.Expr:
        return a.BoolLit(value=False, span=_tok_span(c[0]))

    def null_lit(self, c: list[Any]) -> a.Expr:
        return a.NullLit(span=_tok_span(c[0]))

    def date_lit(self, c: list[Any]) -> a.Expr:
        tok = c[0]
        try:
            value = dt.date.fromisoformat(tok.value)
        except ValueError:
            _fail(
                "invalid-date",
                f"`{tok.value}` is not a valid date",
                _tok_span(tok),
                "dates are written YYYY-MM-DD with a real month and day",
            )
        return a.DateLit(value=value, span=_tok_span(tok))

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
                _tok_span(tok),
                "timestamps are written YYYY-MM-DDTHH:MM[:SS[.ffffff]] with an optional "
                "`Z` or `+HH:MM`",
            )
        return a.TimestampLit(value=value, span=_tok_span(tok))

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
            return a.Aggregate(func=func, target=args[0], where=where, within=within, span=span)
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
        kw, stream, where, within = c
        last = within or where or stream
        return a.Has(stream=stream, where=where, within=within, span=_cover(kw, last))

    def in_segment(self, c: list[Any]) -> a.Expr:
        return a.InSegment(name=_ident_value(c[2]), span=_cover(c[0], c[2]))

    def top(self, c: list[Any]) -> a.Expr:
        kw, num, _pct, by = c
        if num.type == "INT":
            pct: a.IntLit | a.DecimalLit = a.IntLit(value=_int(num), span=_tok_span(num))
        else:
            pct = a.DecimalLit(value=Decimal(num.value.replace("_", "")), span=_tok_span(num))
        return a.Top(percent=pct, by=by, span=_cover(kw, by))


def _is_token(x: Any) -> bool:
    return hasattr(x, "type") and hasattr(x, "start_pos")


class _LexFail(Exception):
    def __init__(self, pos: int) -> None:
        self.pos = pos


@functools.cache
def _parser() -> Any:
    return build_parser(_cache_file())


def build_parser(cache: str | bool = False) -> Any:
    """Lark's LALR parser for the grammar. With ``cache`` (a file path), Lark stores its
    grammar analysis there and later loads it instead of recomputing it (first parse in a
    process ~140 ms -> ~70 ms); a stale, torn or unreadable file is ignored and rewritten."""
    from lark import Lark

    from segql.lang.lexer import SegqlLexer

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer=SegqlLexer,
        maybe_placeholders=True,
        transformer=_Builder(),
        cache=cache,
    )


def _cache_file() -> str | bool:
    """A file in segql's cache directory (:func:`segql.fsutil.cache_dir`), named by the
    grammar's hash; False when caching is off (``SEGQL_NO_CACHE=1``) or the directory cannot
    be created."""
    import hashlib
    import sys

    from segql.core.fsutil import cache_dir, parser_cache_enabled

    if not parser_cache_enabled():
        return False
    try:
        base = cache_dir()
        base.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return False
    digest = hashlib.sha256(grammar_text().encode()).hexdigest()[:16]
    return str(base / f"parser-{digest}-py{sys.version_info[0]}{sys.version_info[1]}.lark")


def _lex(text: str) -> Any:
    return _parser().parser.lexer.lexer.lex(text)


class _Unexpected(Exception):
    def __init__(self, token: Any, expected: set[str]) -> None:
        self.token = token
        self.expected = expected  # the terminals the parser could really shift next


@functools.cache
def _driver() -> Any:
    """A tight LALR(1) loop over Lark's own parse table and callbacks.

    Lark's generic loop hashes grammar rules on every reduction; resolving each reduce
    action to (size, callback, goto-symbol) once makes typical parses ~2x faster. The
    table, the grammar and the tree-building callbacks are Lark's, unchanged."""
    from lark.lexer import Token
    from lark.parsers.lalr_analysis import Shift

    lark_obj = _parser()
    lalr = lark_obj.parser.parser
    table = lalr._parse_table
    callbacks = lalr.parser.callbacks
    lexer = lark_obj.parser.lexer.lexer
    states: dict[Any, dict[str, tuple[Any, ...]]] = {}
    for state, actions in table.states.items():
        row: dict[str, tuple[Any, ...]] = {}
        for term, (action, arg) in actions.items():
            if action is Shift:
                row[term] = (True, arg, callbacks.get(term))
            else:
                row[term] = (False, len(arg.expansion), callbacks[arg], arg.origin.name)
        states[state] = row
    start = table.start_states["start"]
    end = table.end_states["start"]
    terminals = {t.name for t in lark_obj.terminals} | {"$END"}

    def acceptable(text: str, upto: int | None) -> set[str]:
        """The terminals the parser could really shift (or accept at the end) after the
        tokens of ``text`` that start before ``upto`` (all of them if None).

        Only for error messages. The failing state's action row is not enough: an LALR
        state merges the lookaheads of every context it is reached from, and the parser
        may already have reduced on the bad token (so `x in [1 2]` would be told that
        `and` or `)` may follow, and `f(x]` that no operator may). So the prefix is
        replayed on states alone, and each candidate is tried through its reductions."""
        stack = [start]
        for token in lexer.lex(text):
            if upto is not None and token.start_pos >= upto:
                break
            while True:
                step = states[stack[-1]][token.type]
                if step[0]:
                    stack.append(step[1])
                    break
                if step[1]:
                    del stack[-step[1] :]
                stack.append(states[stack[-1]][step[3]][1])
        out: set[str] = set()
        for term in states[stack[-1]].keys() & terminals:
            st = list(stack)
            while True:
                act = states[st[-1]].get(term)
                if act is None:
                    break
                if act[0]:
                    out.add(term)
                    break
                if act[1]:
                    del st[-act[1] :]
                st.append(states[st[-1]][act[3]][1])
                if st[-1] == end:
                    out.add(term)
                    break
        return out

    def run(text: str) -> Any:
        state_stack = [start]
        value_stack: list[Any] = []
        tokens = lexer.lex(text)
        last = None
        for token in tokens:
            last = token
            while True:
                act = states[state_stack[-1]].get(token.type)
                if act is None:
                    raise _Unexpected(token, acceptable(text, token.start_pos))
                if act[0]:
                    state_stack.append(act[1])
                    cb = act[2]
                    value_stack.append(token if cb is None else cb(token))
                    break
                size = act[1]
                if size:
                    args = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    args = []
                value = act[2](args)
                state_stack.append(states[state_stack[-1]][act[3]][1])
                value_stack.append(value)
        pos = last.end_pos if last is not None else len(text)
        end_tok = Token("$END", "", pos, 1, 1, 1, 1, pos)
        while True:
            act = states[state_stack[-1]].get("$END")
            if act is None:
                raise _Unexpected(end_tok, acceptable(text, None))
            assert not act[0]
            size = act[1]
            args = value_stack[-size:] if size else []
            if size:
                del state_stack[-size:]
                del value_stack[-size:]
            value = act[2](args)
            state_stack.append(states[state_stack[-1]][act[3]][1])
            value_stack.append(value)
            if state_stack[-1] == end:
                return value_stack[-1]

    return run


def measure(expr: a.Expr) -> tuple[int, int]:
    """(depth, terms) of a tree, iteratively."""
    depth = 0
    terms = 0
    stack: list[tuple[a.Expr, int]] = [(expr, 1)]
    while stack:
        node, d = stack.pop()
        if d > depth:
            depth = d
        kids = a.children(node)
        if not kids:
            terms += 1
        for k in kids:
            stack.append((k, d + 1))
    return depth, terms


def parse(text: str, *, limits: Limits = DEFAULT_LIMITS) -> a.Expr:
    """Parse one segql expression. Raises :class:`SyntaxErrorDiagnostic` (or
    :class:`LimitError`) with a positioned diagnostic on bad input."""
    if not isinstance(text, str):
        raise TypeError(f"parse() expects a str, not {type(text).__name__}")
    if len(text) > limits.max_length:
        raise LimitError(
            Diagnostic(
                code="limit-exceeded",
                message=f"expression is {len(text):,} characters long; the limit is "
                f"{limits.max_length:,}",
                span=span_at(text, limits.max_length, len(text)),
                hints=("split it into named segments and combine them with `in segment`",),
                source=text,
            )
        )
    bad = None if text.isascii() else _SURROGATE_RE.search(text)
    if bad is not None:
        # Only possible for a str built in Python: it could not be printed back.
        raise SyntaxErrorDiagnostic(
            Diagnostic(
                code="syntax",
                message=f"unexpected lone surrogate U+{ord(bad.group()):04X}",
                span=span_at(text, bad.start(), bad.end()),
                hints=("a lone surrogate is not a character; was the text decoded correctly?",),
                source=text,
            )
        )
    if not text.strip() or _only_comments(text):
        raise SyntaxErrorDiagnostic(
            Diagnostic(
                code="empty",
                message="expected an expression, found nothing",
                span=span_at(text, len(text)),
                hints=("a segment is a condition such as `purchases > 3`",),
                source=text,
            )
        )
    try:
        tree = _driver()(text)
    except _Fail as f:
        raise SyntaxErrorDiagnostic(_attach(f.diag, text)) from None
    except _LexFail as e:
        raise SyntaxErrorDiagnostic(_attach(_explain_chars(text, e.pos), text)) from None
    except _Unexpected as e:
        raise SyntaxErrorDiagnostic(_attach(_explain_token(text, e), text)) from None
    expr: a.Expr = tree
    depth, terms = measure(expr)
    if depth > limits.max_depth:
        raise LimitError(
            Diagnostic(
                code="limit-exceeded",
                message=f"expression is nested {depth} levels deep; the limit is "
                f"{limits.max_depth}",
                span=expr.span,
                hints=("flatten it, or move parts into traits or named segments",),
                source=text,
            )
        )
    if terms > limits.max_terms:
        raise LimitError(
            Diagnostic(
                code="limit-exceeded",
                message=f"expression has {terms:,} terms; the limit is {limits.max_terms:,}",
                span=expr.span,
                hints=("split it into named segments and combine them with `in segment`",),
                source=text,
            )
        )
    return expr


def _only_comments(text: str) -> bool:
    return all(not ln.strip() or ln.strip().startswith("#") for ln in text.splitlines())


# ---------------------------------------------------------------------------------------
# Error explanations: Lark's terminal names never reach the user.
# ---------------------------------------------------------------------------------------

_TERMINAL_WORDS: dict[str, str] = {
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PERCENT": "`%`",
    "NAME": "a name",
    "QUOTED_NAME": "a name",
    "INT": "a number",
    "DECIMAL": "a number",
    "STRING": "a string",
    "DATE": "a date",
    "TIMESTAMP": "a timestamp",
    "DURATION": "a duration such as `30d`",
    "$END": "the end of the expression",
}
_VALUE_STARTS = {"NAME", "INT", "STRING"}


def _describe_token(tok: Any) -> str:
    if tok.type == "$END":
        return "the end of the expression"
    value = str(tok.value)
    if value.lower() in KEYWORDS and tok.type != "QUOTED_NAME":
        return f"the keyword `{value}`"
    return _TERMINAL_WORDS[tok.type] if tok.type in _PUNCTUATION else f"`{value}`"


_PUNCTUATION = {
    "LPAR", "RPAR", "LSQB", "RSQB", "COMMA", "DOT", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT",
}  # fmt: skip
_NAME_STARTS = {"NAME", "QUOTED_NAME"}
# Comparison and arithmetic operators (the anonymous terminals are `!=`, `<=`, `>=`).
_OPERATORS = {"EQUAL", "LESSTHAN", "MORETHAN", "PLUS", "MINUS", "STAR", "SLASH", "PERCENT"}


def _is_operator(term: str) -> bool:
    return term in _OPERATORS or term.startswith("__ANON")


def _describe_expected(expected: set[str]) -> str:
    if expected and expected <= _NAME_STARTS:
        return "a name"
    if expected & _VALUE_STARTS:
        return "a value"
    words: list[str] = []
    has_ops = any(_is_operator(e) for e in expected)
    if has_ops:
        # `in`, `is`, `between`, `contains`, ... are operators too: not listed one by one.
        words.append("an operator")
        words += [f"`{kw}`" for kw in ("and", "or") if f"_{kw.upper()}" in expected]
    for term in ("RPAR", "RSQB", "COMMA", "DURATION"):
        if term in expected:
            words.append(_TERMINAL_WORDS[term])
    if not has_ops:
        words += sorted(
            f"`{e.lstrip('_').lower()}`" for e in expected if e.lstrip("_").lower() in KEYWORDS
        )
    if "$END" in expected and not words:
        words.append("the end of the expression")
    if not words:
        return "something else"
    return " or ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " or " + words[-1]


def _lex_prefix(text: str, upto: int) -> list[Any]:
    """Tokens before ``upto`` (lexing stops quietly at the first bad character)."""
    out: list[Any] = []
    try:
        for tok in _lex(text):
            if tok.start_pos >= upto:
                break
            out.append(tok)
    except _LexFail:
        pass
    return out


def _attach(d: Diagnostic, text: str) -> Diagnostic:
    return dataclasses.replace(d, file=None, source=text)


def _explain_chars(text: str, pos: int) -> Diagnostic:
    ch = text[pos]
    two = text[pos : pos + 2]
    span1 = span_at(text, pos, pos + 1)
    if two == "&&":
        return Diagnostic(
            code="syntax",
            message="`&&` is not a segql operator",
            span=span_at(text, pos, pos + 2),
            hints=("write `and`",),
        )
    if two == "||":
        return Diagnostic(
            code="syntax",
            message="`||` is not a segql operator",
            span=span_at(text, pos, pos + 2),
            hints=("write `or`",),
        )
    if ch in "&|":
        word = "and" if ch == "&" else "or"
        return Diagnostic(
            code="syntax",
            message=f"`{ch}` is not a segql operator",
            span=span1,
            hints=(f"write `{word}`",),
        )
    if two == "!" or (ch == "!" and two != "!="):
        return Diagnostic(
            code="syntax",
            message="`!` is not a segql operator",
            span=span1,
            hints=("write `not` for negation, or `!=` for not-equal",),
        )
    if ch in "'\"":
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        str_hints = [
            f"add a closing {ch} before the end of the line",
            "strings cannot span lines; write `\\n` for a line break",
        ]
        if text[pos + 1 : end].rstrip().endswith("\\" + ch):
            str_hints.insert(
                0,
                f"`\\{ch}` is an escaped quote, not the end of the string; a backslash "
                "at the end is written `\\\\`",
            )
        return Diagnostic(
            code="unterminated-string",
            message="this string is never closed",
            span=span_at(text, pos, end),
            hints=tuple(str_hints),
        )
    if ch == "`":
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        return Diagnostic(
            code="unterminated-name",
            message="this quoted name is never closed",
            span=span_at(text, pos, end),
            hints=("add a closing ` — backticks quote a name such as `first name`",),
        )
    if ch.isdigit():
        m = re.match(r"\d{4}-\d{2}-\d{2}(T[\d:.]*)?(Z|[+-][\d:]*)?", text[pos:])
        if m:
            bad = m.group(0)
            ts_hints = ["write dates as 2024-03-31 and timestamps as 2024-03-31T12:00:00"]
            if m.group(2) and m.group(2) != "Z" and not re.fullmatch(r".\d\d:\d\d", m.group(2)):
                ts_hints.insert(0, "write the zone offset as hours and minutes: `+02:00`")
            if re.search(r"\.\d{7}", bad):
                ts_hints.insert(0, "a timestamp has at most 6 digits after the seconds' point")
            return Diagnostic(
                code="invalid-timestamp",
                message=f"`{bad}` is not a valid date or timestamp",
                span=span_at(text, pos, pos + len(bad)),
                hints=tuple(ts_hints),
            )
    if ch == ";":
        return Diagnostic(
            code="syntax",
            message="unexpected `;`",
            span=span1,
            hints=("a segment is a single expression; join conditions with `and`",),
        )
    if not ch.isprintable() or ch.isspace():
        return Diagnostic(
            code="syntax",
            message=f"unexpected invisible character U+{ord(ch):04X}",
            span=span1,
            hints=(
                f"remove it; inside a string, write it as an escape such as `\\u{ord(ch):04x}`"
                if ord(ch) <= 0xFFFF
                else "remove it",
            ),
        )
    if ch in "‘’‚“”„«»":
        char_hint = "this is a typographic quote; segql strings use ' or \""
    elif not ch.isascii() and unicodedata.category(ch)[0] in "LN":
        char_hint = "a name with other letters is quoted in backticks: `prénom`"
    elif not ch.isascii():
        char_hint = f"put text in quotes ('{ch}') and unusual names in backticks (`{ch}`)"
    else:
        char_hint = (
            "segql's operators are = != < <= > >= + - * / %; put text in quotes ('a@b.com') "
            "and unusual names in backticks (`first name`)"
        )
    return Diagnostic(
        code="syntax",
        message=f"unexpected character `{ch}`",
        span=span1,
        hints=(char_hint,),
    )


def _explain_token(text: str, e: Any) -> Diagnostic:
    tok = e.token
    expected: set[str] = set(getattr(e, "expected", None) or ())
    at_end = tok.type == "$END"
    pos = len(text) if at_end else tok.start_pos
    prev_tokens = _lex_prefix(text, pos)
    prev = prev_tokens[-1] if prev_tokens else None
    span = span_at(text, pos, pos) if at_end else _tok_span(tok)
    found = _describe_token(tok)
    prev_text = str(prev.value) if prev is not None else ""
    prev_low = prev_text.lower()

    # `==`, `<>`
    if prev is not None and prev.value == "=" and tok.value == "=" and prev.end_pos == pos:
        return Diagnostic(
            code="syntax",
            message="`==` is not a segql operator",
            span=span_at(text, prev.start_pos, pos + 1),
            hints=("write `=` to compare for equality",),
        )
    if prev is not None and prev.value == "<" and tok.value == ">" and prev.end_pos == pos:
        return Diagnostic(
            code="syntax",
            message="`<>` is not a segql operator",
            span=span_at(text, prev.start_pos, pos + 1),
            hints=("write `!=` for not-equal",),
        )
    # `=>`, `=<`, `!==`, `><`: two comparison operators glued together
    if (
        prev is not None
        and prev.value in _CMP_VALUES
        and tok.value in _CMP_VALUES
        and prev.end_pos == pos
    ):
        glued = f"{prev.value}{tok.value}"
        meant = _MISSPELLED_CMP.get(glued)
        return Diagnostic(
            code="syntax",
            message=f"`{glued}` is not a segql operator",
            span=span_at(text, prev.start_pos, tok.end_pos),
            hints=(f"write `{meant}`",) if meant else ("comparisons are = != < <= > >=",),
        )
    # `2024-03-31 12:00`: a date and a time without the `T`
    if (
        prev is not None
        and prev.type == "DATE"
        and tok.type == "INT"
        and re.match(r"\d\d:\d\d", text[tok.start_pos :])
    ):
        clock = re.match(r"[\d:.]*", text[tok.start_pos :])
        assert clock is not None
        return Diagnostic(
            code="invalid-timestamp",
            message=f"`{prev.value} {clock.group(0)}` is not a timestamp",
            span=span_at(text, prev.start_pos, tok.start_pos + len(clock.group(0))),
            hints=(f"join the date and the time with `T`: `{prev.value}T{clock.group(0)}`",),
        )
    # `30m`, `30days`: a unit glued to a number
    if (
        prev is not None
        and prev.type in ("INT", "DECIMAL")
        and tok.type == "NAME"
        and prev.end_pos == tok.start_pos
    ):
        unit = str(tok.value)
        whole = span_at(text, prev.start_pos, tok.end_pos)
        if unit.startswith("_") or re.fullmatch(r"[eE]\d+", unit):
            # `1_`, `1__0`, `1e5`: not a unit but a malformed number
            num_hints = ["`_` may only separate digits, as in `1_000`"]
            if unit[0] in "eE":
                num_hints = ["segql numbers have no exponent; write the digits out"]
                if len(unit) <= 4:
                    full = Decimal(f"{prev.value}{unit}".replace("_", ""))
                    num_hints[0] += f": `{full:f}`"
            return Diagnostic(
                code="invalid-number",
                message=f"`{prev.value}{unit}` is not a number",
                span=whole,
                hints=tuple(num_hints),
            )
        if unit.lower() == "m":
            return Diagnostic(
                code="ambiguous-duration",
                message=f"`{prev.value}{unit}` is ambiguous: minutes or months?",
                span=whole,
                hints=(f"write `{prev.value}min` for minutes or `{prev.value}mo` for months",),
            )
        guess = _unit_guess(unit)
        unit_hints = (
            [f"did you mean `{prev.value}{guess}`?"] if guess and prev.type == "INT" else []
        )
        unit_hints.append("duration units are s, min, h, d, w, mo and y")
        if prev.type == "DECIMAL":
            unit_hints.insert(0, "durations take a whole number, e.g. `36h` instead of `1.5d`")
        return Diagnostic(
            code="invalid-duration",
            message=f"unknown duration unit `{unit}` in `{prev.value}{unit}`",
            span=whole,
            hints=tuple(unit_hints),
        )
    # unclosed brackets at the end
    if at_end:
        opener = _unclosed_bracket(prev_tokens)
        if opener is not None and (expected & {"RPAR", "RSQB"}):
            close = ")" if opener.value == "(" else "]"
            return Diagnostic(
                code="unclosed-bracket",
                message=f"this `{opener.value}` is never closed",
                span=_tok_span(opener),
                hints=(f"add `{close}` at the end",),
            )
        if prev is not None and prev.type == "_AND" and _open_between(prev_tokens[:-1]):
            return Diagnostic(
                code="syntax",
                message="expected the upper bound after `between … and`, "
                "found the end of the expression",
                span=span,
                hints=("write it as `x between 10 and 20` (both ends included)",),
            )
        if prev is not None and prev_low in ("and", "or") and prev.type != "QUOTED_NAME":
            return Diagnostic(
                code="syntax",
                message=f"expected a condition after `{prev_low}`, found the end of the expression",
                span=_tok_span(prev),
                hints=(f"remove the trailing `{prev_low}`, or add a condition after it",),
            )
    # comparison chain `1 < x < 5`
    if (
        tok.value in _CMP_VALUES
        and _in_comparison(prev_tokens)
        and (prev is None or prev.value not in _CMP_VALUES)
    ):
        return Diagnostic(
            code="chained-comparison",
            message="comparisons cannot be chained",
            span=span,
            hints=("write `x between low and high`, or join two comparisons with `and`",),
        )
    # `has E where not C`: the bare form takes one comparison
    if prev is not None and prev.type == "_WHERE" and tok.type == "NOT" and "NOT" not in expected:
        return Diagnostic(
            code="syntax",
            message="expected a comparison after `where`, found the keyword `not`",
            span=span,
            hints=(
                "in `has E where C`, C is one comparison; put a condition with `not` in "
                "parentheses: `has E where (not C)`",
            ),
        )
    # keyword used where a value belongs
    if (
        tok.type != "$END"
        and str(tok.value).lower() in KEYWORDS
        and tok.type not in ("QUOTED_NAME", "STRING")
        and expected & _VALUE_STARTS
    ):
        kw = str(tok.value)
        after = f" after `{prev_text}`" if prev is not None else ""
        return Diagnostic(
            code="syntax",
            message=f"expected {_describe_expected(expected)}{after}, found the keyword `{kw}`",
            span=span,
            hints=(
                f"`{kw.lower()}` is a keyword; quote a field with that name in backticks: "
                f"`` `{kw}` ``",
            ),
        )
    if prev is not None and prev.type == "STRING" and tok.type == "NAME":
        return Diagnostic(
            code="syntax",
            message=f"expected an operator after the string {prev_text}, found {found}",
            span=span,
            hints=("inside a string, write a quote twice ('it''s') or escape it (\\')",),
        )
    after = f" after `{prev_text}`" if prev is not None else ""
    if prev is not None and prev.type in _AFTER_KEYWORD:
        kw_hints: tuple[str, ...] = ()
        if prev.type == "_WITHIN" and tok.type == "INT":
            kw_hints = (f"did you mean `{tok.value}d`?",)
        return Diagnostic(
            code="syntax",
            message=f"expected {_AFTER_KEYWORD[prev.type]}{after}, found {found}",
            span=span,
            hints=kw_hints,
        )
    if (
        prev is not None
        and prev.type in ("INT", "DECIMAL")
        and len(prev_tokens) >= 2
        and prev_tokens[-2].type == "TOP"
    ):
        return Diagnostic(
            code="syntax",
            message=f"expected `%` after `top {prev.value}`, found {found}",
            span=span,
            hints=(f"write `top {prev.value}% by …`",),
        )
    if (
        prev is not None
        and prev.type == "NOT"
        and len(prev_tokens) >= 2
        and prev_tokens[-2].type in _OPERAND_ENDS
    ):
        not_hints: tuple[str, ...] = ()
        if tok.type == "_BETWEEN":
            not_hints = ("write `not (x between a and b)`",)
        elif tok.value == "=":
            not_hints = ("write `x != value`",)
        elif tok.type == "_IS":
            not_hints = ("write `x is not null`",)
        return Diagnostic(
            code="syntax",
            message=f"expected `in` or `contains` after `not`, found {found}",
            span=span,
            hints=not_hints,
        )
    if _open_between(prev_tokens) and "_AND" in expected:
        return Diagnostic(
            code="syntax",
            message=f"expected `and` to complete `between … and …`, found {found}",
            span=span,
            hints=("write it as `x between 10 and 20` (both ends included)",),
        )
    # `x where C`: only aggregates and `has` take a `where`
    if tok.type == "_WHERE" and "_WHERE" not in expected:
        where_hint = "write e.g. `count(orders where amount > 50) > 2` or `has orders where …`"
        if len(prev_tokens) >= 2 and prev_tokens[-2].type == "_WITHIN":
            where_hint = (
                "`where` comes before `within`: `count(orders where amount > 50 within 30d)`"
            )
        return Diagnostic(
            code="misplaced-clause",
            message="`where` is only allowed inside an aggregate such as `count(...)` or "
            "after `has E`",
            span=span,
            hints=(where_hint,),
        )
    if _unclosed_bracket(prev_tokens) is None:
        expected = expected - {"RPAR", "RSQB", "COMMA"}
    exp = _describe_expected(expected)
    hints: list[str] = []
    if tok.type == "RPAR" and _unclosed_bracket(prev_tokens) is None:
        hints.append("this `)` has no matching `(`")
        return Diagnostic(
            code="unbalanced-bracket", message="unmatched `)`", span=span, hints=tuple(hints)
        )
    if tok.type == "NAME" and prev is not None and prev.type in ("NAME", "QUOTED_NAME", "RPAR"):
        hints.append("join conditions with `and` or `or`; quote names with spaces in backticks")
    spaced_unit = _unit_guess(str(tok.value)) if tok.type == "NAME" else None
    if spaced_unit and prev is not None and prev.type == "INT":
        hints.append(f"write a duration without a space: `{prev.value}{spaced_unit}`")
    if (
        tok.type == "RPAR"
        and prev is not None
        and prev.type == "LPAR"
        and len(prev_tokens) > 1
        and prev_tokens[-2].type == "IN"
    ):
        hints.append("an empty list is written `[]`")
    if tok.type == "LPAR" and prev is not None and prev.type in ("NOW", "TODAY"):
        hints.append(f"`{prev_low}` is written without parentheses")
    if tok.type == "DOT" and prev is not None and prev.type == "INT" and prev.end_pos == pos:
        hints.append(f"write decimals with digits after the point: `{prev.value}.0`")
    elif tok.type == "DOT" and (frac := re.match(r"\.\d+", text[pos:])):
        hints.append(f"write decimals with a digit before the point: `0{frac.group(0)}`")
    return Diagnostic(
        code="syntax",
        message=f"expected {exp}{after}, found {found}",
        span=span,
        hints=tuple(hints),
    )


def _unit_guess(unit: str) -> str | None:
    low = unit.lower()
    table = {
        "sec": "s", "secs": "s", "second": "s", "seconds": "s",
        "m": None, "mins": "min", "minute": "min", "minutes": "min",
        "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
        "day": "d", "days": "d", "D": "d",
        "wk": "w", "wks": "w", "week": "w", "weeks": "w",
        "mon": "mo", "mos": "mo", "month": "mo", "months": "mo", "M": "mo",
        "yr": "y", "yrs": "y", "year": "y", "years": "y",
    }  # fmt: skip
    if low in UNITS:
        return low
    return table.get(low)


def _unclosed_bracket(tokens: list[Any]) -> Any | None:
    stack: list[Any] = []
    for t in tokens:
        if t.type in ("LPAR", "LSQB"):
            stack.append(t)
        elif t.type in ("RPAR", "RSQB") and stack:
            stack.pop()
    return stack[-1] if stack else None


_CMP_VALUES = {"=", "!=", "<", "<=", ">", ">="}
_MISSPELLED_CMP = {"=>": ">=", "=<": "<=", "><": "!=", "!==": "!=", ">==": ">=", "<==": "<="}
_OPERAND_ENDS = {
    "NAME", "QUOTED_NAME", "INT", "DECIMAL", "STRING", "RPAR", "RSQB", "DURATION", "DATE",
    "TIMESTAMP", "NOW", "TODAY", "TRUE", "FALSE", "NULL", "AGO",
}  # fmt: skip
_AFTER_KEYWORD = {
    "IN": "a list such as `['a', 'b']`",
    "HAS": "an event stream name such as `orders`",
    "TOP": "a percentage such as `10%`",
    "SEGMENT": "a segment name",
    "_IS": "`null` or `not null`",
    "_STARTS": "`with`",
    "_ENDS": "`with`",
    "_WITHIN": "a duration such as `30d`",
}


def _open_between(tokens: list[Any]) -> bool:
    """Whether the tokens end inside `x between low` (before its `and`)."""
    depth = 0
    for t in reversed(tokens):
        if t.type in ("RPAR", "RSQB"):
            depth += 1
        elif t.type in ("LPAR", "LSQB"):
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0 and t.type in ("_AND", "_OR", "NOT"):
            return False
        elif depth == 0 and t.type == "_BETWEEN":
            return True
    return False


def _in_comparison(tokens: list[Any]) -> bool:
    """Whether the current predicate (since the last and/or/not/bracket) has an operator."""
    depth = 0
    for t in reversed(tokens):
        if t.type in ("RPAR", "RSQB"):
            depth += 1
        elif t.type in ("LPAR", "LSQB"):
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0:
            if str(t.value).lower() in ("and", "or", "not", "where") and t.type != "QUOTED_NAME":
                return False
            if t.value in _CMP_VALUES:
                return True
    return False


def needs_quotes(name: str) -> bool:
    """Whether a name must be written in backticks."""
    return _IDENT_RE.match(name) is None or name.lower() in KEYWORDS
