"""Parsing: text -> :mod:`segql.lang.ast`, with diagnostics that speak segql.

The Lark LALR parser is built once per process from ``segql/lang/segql.lark`` (shipped inside
the package). Tree construction happens in the parser's reduce callbacks
(:mod:`segql.lang.builder`), so it is iterative: no stage here is bounded by Python's
recursion limit. Limits (CONTRACT §3.8) are enforced here, before any recursive stage can
see the tree. What may follow a prefix (for error messages and the REPL) is asked of Lark's
public interactive parser (:class:`Prefix`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from segql.core.diagnostics import Diagnostic, LimitError, SyntaxErrorDiagnostic, span_at
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.lang import ast as a
from segql.lang.builder import Builder, Fail
from segql.lang.tokens import END, LexFail, grammar_text

__all__ = ["Prefix", "build_parser", "lex", "measure", "parse", "tokens_before"]

_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


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
        transformer=Builder(),
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


@functools.cache
def _lexer() -> Any:
    from segql.lang.lexer import SegqlLexer

    return SegqlLexer(_parser().lexer_conf)


def lex(text: str) -> Iterator[Any]:
    """The tokens of ``text`` (comments and spaces skipped); raises :class:`LexFail` at the
    first character no token starts with."""
    return iter(_lexer().lex(text))


def tokens_before(text: str, upto: int) -> list[Any]:
    """The tokens that start before ``upto`` (lexing stops quietly at a bad character)."""
    out: list[Any] = []
    try:
        for tok in lex(text):
            if tok.start_pos >= upto:
                break
            out.append(tok)
    except LexFail:
        pass
    return out


@functools.cache
def _interactive() -> Any:
    """The grammar's parser without tree building, for questions about prefixes: a token
    fed here never runs segql's callbacks (which expect real token values)."""
    from lark import Lark

    from segql.lang.lexer import SegqlLexer

    cache = _cache_file()
    if isinstance(cache, str):
        cache = cache.replace("parser-", "prefix-")
    return Lark(grammar_text(), parser="lalr", lexer=SegqlLexer, cache=cache)


class Prefix:
    """The parser after some tokens: which terminals may come next, and whether the input
    may end here. Built on Lark's public interactive parser."""

    __slots__ = ("_ip",)

    def __init__(self, ip: Any) -> None:
        self._ip = ip

    @classmethod
    def start(cls) -> Prefix:
        return cls(_interactive().parse_interactive(""))

    @classmethod
    def of(cls, tokens: Iterable[Any]) -> Prefix | None:
        """The parser after ``tokens`` (tokens or terminal names), or None when they are
        not the start of any expression."""
        out: Prefix | None = cls.start()
        for tok in tokens:
            assert out is not None
            # (a lark Token is a str too: ask for its type first)
            out = out.feed(getattr(tok, "type", tok))
            if out is None:
                return None
        return out

    def feed(self, term: str) -> Prefix | None:
        """The parser after one more token of type ``term``, or None if it is refused."""
        from lark import Token
        from lark.exceptions import UnexpectedToken

        ip = self._ip.copy(deepcopy_values=False)
        try:
            ip.feed_token(Token(term, ""))
        except UnexpectedToken:
            return None
        return Prefix(ip)

    def feed_all(self, terms: Sequence[str]) -> Prefix | None:
        out: Prefix | None = self
        for term in terms:
            if out is None:
                return None
            out = out.feed(term)
        return out

    def accepts(self) -> frozenset[str]:
        """The terminals that may come next (``$END``: the input may end here)."""
        return frozenset(self._ip.accepts())

    def can_end(self) -> bool:
        return self.feed(END) is not None


class _Unexpected(Exception):
    def __init__(self, token: Any) -> None:
        self.token = token


@functools.cache
def _driver() -> Any:
    """A tight LALR(1) loop over Lark's parse table and callbacks, for successful parses.

    Lark's generic loop hashes grammar rules on every reduction; resolving each reduce
    action to (size, callback, goto-symbol) once makes a typical parse ~20% faster
    (docs/performance.md). The table, the grammar and the tree-building callbacks are
    Lark's, read through its public interactive parser; on an error the explanation asks
    :class:`Prefix`, so this loop needs no error recovery."""
    from lark import Token

    conf = _parser().parse_interactive("").parser_state.parse_conf
    callbacks = conf.callbacks
    lexer = _lexer()
    states: dict[Any, dict[str, tuple[Any, ...]]] = {}
    reduce: dict[Any, tuple[Any, ...]] = {}  # by rule: one tuple, shared by every state
    for state, actions in conf.states.items():
        row: dict[str, tuple[Any, ...]] = {}
        for term, (action, arg) in actions.items():
            if action.name == "Shift":
                row[term] = (True, arg, callbacks.get(term))
                continue
            act = reduce.get(arg)
            if act is None:
                if _passes_through(arg):
                    act = (False, 0, None, arg.origin.name)
                else:
                    act = (False, len(arg.expansion), callbacks[arg], arg.origin.name)
                reduce[arg] = act
            row[term] = act
        states[state] = row
    start, end = conf.start_state, conf.end_state

    def run(text: str) -> Any:
        state_stack = [start]
        value_stack: list[Any] = []
        last = None
        for token in lexer.lex(text):
            last = token
            while True:
                act = states[state_stack[-1]].get(token.type)
                if act is None:
                    raise _Unexpected(token)
                if act[0]:
                    state_stack.append(act[1])
                    cb = act[2]
                    value_stack.append(token if cb is None else cb(token))
                    break
                cb = act[2]
                if cb is None:  # `?a: b`: the value stays, only the state changes
                    del state_stack[-1]
                    state_stack.append(states[state_stack[-1]][act[3]][1])
                    continue
                size = act[1]
                if size:
                    args = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    args = []
                value = cb(args)
                state_stack.append(states[state_stack[-1]][act[3]][1])
                value_stack.append(value)
        pos = last.end_pos if last is not None else len(text)
        end_tok = Token(END, "", pos, 1, 1, 1, 1, pos)
        while True:
            act = states[state_stack[-1]].get(END)
            if act is None:
                raise _Unexpected(end_tok)
            if act[2] is None:
                del state_stack[-1]
                state_stack.append(states[state_stack[-1]][act[3]][1])
                if state_stack[-1] == end:
                    return value_stack[-1]
                continue
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


def _passes_through(rule: Any) -> bool:
    """A rule ``?a: b`` of one nonterminal: its value is its child's, unchanged."""
    return len(rule.expansion) == 1 and bool(rule.options.expand1) and not rule.expansion[0].is_term


def _attach(d: Diagnostic, text: str) -> Diagnostic:
    return dataclasses.replace(d, file=None, source=text)


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
    except Fail as f:
        raise SyntaxErrorDiagnostic(_attach(f.diag, text)) from None
    except LexFail as e:
        from segql.lang.explain_chars import explain_chars  # only for mistakes

        raise SyntaxErrorDiagnostic(_attach(explain_chars(text, e.pos), text)) from None
    except _Unexpected as e:
        from segql.lang.explain import explain_token

        before = tokens_before(text, e.token.start_pos if e.token.type != END else len(text))
        expected = Prefix.of(before)
        accepted = expected.accepts() if expected is not None else frozenset()
        diag = explain_token(text, e.token, accepted, before)
        raise SyntaxErrorDiagnostic(_attach(diag, text)) from None
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
