"""Syntax errors explained in segql's words: Lark's terminal names never reach the user.

An unexpected token is explained by :func:`explain_token`, which tries small named rules
(`RULES`, one per kind of mistake: `==`, a unit glued to a number, a chained comparison,
…) before saying what was expected; a bad character by
:func:`segql.lang.explain_chars.explain_chars`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from segql.core.diagnostics import Diagnostic, Span, span_at
from segql.lang.builder import tok_span
from segql.lang.explain_tokens import (
    _AFTER_KEYWORD,
    _CMP_VALUES,
    _MISSPELLED_CMP,
    _OPERAND_ENDS,
    _VALUE_STARTS,
    _describe_expected,
    _describe_token,
    _in_comparison,
    _level,
    _open_between,
    _unclosed_bracket,
    _unit_guess,
)
from segql.lang.tokens import KEYWORDS

__all__ = ["RULES", "explain_token"]


@dataclass(frozen=True, slots=True)
class _Context:
    """What an explanation rule sees: the unexpected token and what came before it."""

    text: str
    tok: Any
    expected: frozenset[str]  # the terminals the parser could have taken instead
    prev_tokens: list[Any]
    prev: Any
    at_end: bool
    pos: int
    span: Span
    found: str
    prev_text: str
    prev_low: str
    after: str


def explain_token(
    text: str, tok: Any, expected: frozenset[str], prev_tokens: list[Any]
) -> Diagnostic:
    """The diagnostic for an unexpected token: the first rule that recognises the mistake,
    else what the parser expected."""
    at_end = tok.type == "$END"
    pos = len(text) if at_end else tok.start_pos
    prev = prev_tokens[-1] if prev_tokens else None
    prev_text = str(prev.value) if prev is not None else ""
    c = _Context(
        text=text,
        tok=tok,
        expected=expected,
        prev_tokens=prev_tokens,
        prev=prev,
        at_end=at_end,
        pos=pos,
        span=span_at(text, pos, pos) if at_end else tok_span(tok),
        found=_describe_token(tok),
        prev_text=prev_text,
        prev_low=prev_text.lower(),
        after=f" after `{prev_text}`" if prev is not None else "",
    )
    for rule in RULES:
        found = rule(c)
        if found is not None:
            return found
    return _generic(c)


def _double_equals(c: _Context) -> Diagnostic | None:
    # `==`, `<>`
    if (
        c.prev is not None
        and c.prev.value == "="
        and c.tok.value == "="
        and c.prev.end_pos == c.pos
    ):
        return Diagnostic(
            code="syntax",
            message="`==` is not a segql operator",
            span=span_at(c.text, c.prev.start_pos, c.pos + 1),
            hints=("write `=` to compare for equality",),
        )
    return None


def _sql_not_equal(c: _Context) -> Diagnostic | None:
    if (
        c.prev is not None
        and c.prev.value == "<"
        and c.tok.value == ">"
        and c.prev.end_pos == c.pos
    ):
        return Diagnostic(
            code="syntax",
            message="`<>` is not a segql operator",
            span=span_at(c.text, c.prev.start_pos, c.pos + 1),
            hints=("write `!=` for not-equal",),
        )
    return None


def _glued_comparison(c: _Context) -> Diagnostic | None:
    # `=>`, `=<`, `!==`, `><`: two comparison operators glued together
    if (
        c.prev is not None
        and c.prev.value in _CMP_VALUES
        and c.tok.value in _CMP_VALUES
        and c.prev.end_pos == c.pos
    ):
        glued = f"{c.prev.value}{c.tok.value}"
        meant = _MISSPELLED_CMP.get(glued)
        return Diagnostic(
            code="syntax",
            message=f"`{glued}` is not a segql operator",
            span=span_at(c.text, c.prev.start_pos, c.tok.end_pos),
            hints=(f"write `{meant}`",) if meant else ("comparisons are = != < <= > >=",),
        )
    return None


def _date_space_time(c: _Context) -> Diagnostic | None:
    # `2024-03-31 12:00`: a date and a time without the `T`
    if (
        c.prev is not None
        and c.prev.type == "DATE"
        and c.tok.type == "INT"
        and re.match(r"\d\d:\d\d", c.text[c.tok.start_pos :])
    ):
        clock = re.match(r"[\d:.]*", c.text[c.tok.start_pos :])
        assert clock is not None
        return Diagnostic(
            code="invalid-timestamp",
            message=f"`{c.prev.value} {clock.group(0)}` is not a timestamp",
            span=span_at(c.text, c.prev.start_pos, c.tok.start_pos + len(clock.group(0))),
            hints=(f"join the date and the time with `T`: `{c.prev.value}T{clock.group(0)}`",),
        )
    return None


def _unit_glued_to_number(c: _Context) -> Diagnostic | None:
    # `30m`, `30days`: a unit glued to a number
    if (
        c.prev is not None
        and c.prev.type in ("INT", "DECIMAL")
        and c.tok.type == "NAME"
        and c.prev.end_pos == c.tok.start_pos
    ):
        unit = str(c.tok.value)
        whole = span_at(c.text, c.prev.start_pos, c.tok.end_pos)
        if unit.startswith("_") or re.fullmatch(r"[eE]\d+", unit):
            # `1_`, `1__0`, `1e5`: not a unit but a malformed number
            num_hints = ["`_` may only separate digits, as in `1_000`"]
            if unit[0] in "eE":
                num_hints = ["segql numbers have no exponent; write the digits out"]
                if len(unit) <= 4:
                    full = Decimal(f"{c.prev.value}{unit}".replace("_", ""))
                    num_hints[0] += f": `{full:f}`"
            return Diagnostic(
                code="invalid-number",
                message=f"`{c.prev.value}{unit}` is not a number",
                span=whole,
                hints=tuple(num_hints),
            )
        if unit.lower() == "m":
            return Diagnostic(
                code="ambiguous-duration",
                message=f"`{c.prev.value}{unit}` is ambiguous: minutes or months?",
                span=whole,
                hints=(f"write `{c.prev.value}min` for minutes or `{c.prev.value}mo` for months",),
            )
        guess = _unit_guess(unit)
        unit_hints = (
            [f"did you mean `{c.prev.value}{guess}`?"] if guess and c.prev.type == "INT" else []
        )
        unit_hints.append("duration units are s, min, h, d, w, mo and y")
        if c.prev.type == "DECIMAL":
            unit_hints.insert(0, "durations take a whole number, e.g. `36h` instead of `1.5d`")
        return Diagnostic(
            code="invalid-duration",
            message=f"unknown duration unit `{unit}` in `{c.prev.value}{unit}`",
            span=whole,
            hints=tuple(unit_hints),
        )
    return None


def _end_of_input(c: _Context) -> Diagnostic | None:
    # unclosed brackets at the end
    if c.at_end:
        opener = _unclosed_bracket(c.prev_tokens)
        if opener is not None and (c.expected & {"RPAR", "RSQB"}):
            close = ")" if opener.value == "(" else "]"
            return Diagnostic(
                code="unclosed-bracket",
                message=f"this `{opener.value}` is never closed",
                span=tok_span(opener),
                hints=(f"add `{close}` at the end",),
            )
        if c.prev is not None and c.prev.type == "_AND" and _open_between(c.prev_tokens[:-1]):
            return Diagnostic(
                code="syntax",
                message="expected the upper bound after `between … and`, "
                "found the end of the expression",
                span=c.span,
                hints=("write it as `x between 10 and 20` (both ends included)",),
            )
        if c.prev is not None and c.prev_low in ("and", "or") and c.prev.type != "QUOTED_NAME":
            return Diagnostic(
                code="syntax",
                message=f"expected a condition after `{c.prev_low}`, "
                "found the end of the expression",
                span=tok_span(c.prev),
                hints=(f"remove the trailing `{c.prev_low}`, or add a condition after it",),
            )
    return None


def _chained_comparison(c: _Context) -> Diagnostic | None:
    # comparison chain `1 < x < 5`
    if (
        c.tok.value in _CMP_VALUES
        and _in_comparison(c.prev_tokens)
        and (c.prev is None or c.prev.value not in _CMP_VALUES)
    ):
        return Diagnostic(
            code="chained-comparison",
            message="comparisons cannot be chained",
            span=c.span,
            hints=("write `x between low and high`, or join two comparisons with `and`",),
        )
    return None


def _not_after_bare_where(c: _Context) -> Diagnostic | None:
    # `has E where not C`: the bare form takes one comparison
    if (
        c.prev is not None
        and c.prev.type == "_WHERE"
        and c.tok.type == "NOT"
        and "NOT" not in c.expected
    ):
        return Diagnostic(
            code="syntax",
            message="expected a comparison after `where`, found the keyword `not`",
            span=c.span,
            hints=(
                "in `has E where C`, C is one comparison; put a condition with `not` in "
                "parentheses: `has E where (not C)`",
            ),
        )
    return None


def _and_in_bare_where(c: _Context) -> Diagnostic | None:
    # `has E where A and B within D`: the bare `where` took A alone, so `within` follows a
    # contact-level `and B`
    if c.tok.type != "_WITHIN" or "_WITHIN" in c.expected:
        return None
    joined: str | None = None
    toks = c.prev_tokens
    for i, t in _level(toks):
        if t.type in ("_AND", "_OR"):
            joined = str(t.value).lower()
        elif t.type == "_WHERE":
            if joined is None or i < 2 or toks[i - 2].type not in ("HAS", "_BY"):
                return None
            cond = c.text[t.end_pos : c.tok.start_pos].strip()
            head = c.text[toks[i - 2].start_pos : t.end_pos]
            hint = (
                f"in `has E where C`, C is one comparison, so `{joined}` ended it; put "
                f"the whole condition in parentheses: `{head} ({cond}) {c.tok.value} …`"
            )
            generic = _generic(c)
            return dataclasses.replace(generic, hints=(*generic.hints, hint))
    return None


def _keyword_as_value(c: _Context) -> Diagnostic | None:
    # keyword used where a value belongs
    if (
        c.tok.type != "$END"
        and str(c.tok.value).lower() in KEYWORDS
        and c.tok.type not in ("QUOTED_NAME", "STRING")
        and c.expected & _VALUE_STARTS
    ):
        kw = str(c.tok.value)
        return Diagnostic(
            code="syntax",
            message=f"expected {_describe_expected(c.expected)}{c.after}, found the keyword `{kw}`",
            span=c.span,
            hints=(
                f"`{kw.lower()}` is a keyword; quote a field with that name in backticks: "
                f"`` `{kw}` ``",
            ),
        )
    return None


def _quote_in_string(c: _Context) -> Diagnostic | None:
    if c.prev is not None and c.prev.type == "STRING" and c.tok.type == "NAME":
        return Diagnostic(
            code="syntax",
            message=f"expected an operator after the string {c.prev_text}, found {c.found}",
            span=c.span,
            hints=("inside a string, write a quote twice ('it''s') or escape it (\\')",),
        )
    return None


def _after_keyword(c: _Context) -> Diagnostic | None:
    sequence = c.prev is not None and c.prev.type == "_BY" and len(c.prev_tokens) >= 2
    if sequence and c.prev_tokens[-2].type in ("FOLLOWED", "NOT_FOLLOWED"):
        what = "an event stream name after `followed by`"
        return Diagnostic(code="syntax", message=f"expected {what}, found {c.found}", span=c.span)
    if c.prev is not None and c.prev.type in _AFTER_KEYWORD:
        kw_hints: tuple[str, ...] = ()
        if c.prev.type == "_WITHIN" and c.tok.type == "INT":
            kw_hints = (f"did you mean `{c.tok.value}d`?",)
        return Diagnostic(
            code="syntax",
            message=f"expected {_AFTER_KEYWORD[c.prev.type]}{c.after}, found {c.found}",
            span=c.span,
            hints=kw_hints,
        )
    return None


def _top_without_percent(c: _Context) -> Diagnostic | None:
    if (
        c.prev is not None
        and c.prev.type in ("INT", "DECIMAL")
        and len(c.prev_tokens) >= 2
        and c.prev_tokens[-2].type == "TOP"
    ):
        return Diagnostic(
            code="syntax",
            message=f"expected `%` after `top {c.prev.value}`, found {c.found}",
            span=c.span,
            hints=(f"write `top {c.prev.value}% by …`",),
        )
    return None


def _not_without_in(c: _Context) -> Diagnostic | None:
    if (
        c.prev is not None
        and c.prev.type == "NOT"
        and len(c.prev_tokens) >= 2
        and c.prev_tokens[-2].type in _OPERAND_ENDS
    ):
        not_hints: tuple[str, ...] = ()
        if c.tok.type == "_BETWEEN":
            not_hints = ("write `not (x between a and b)`",)
        elif c.tok.value == "=":
            not_hints = ("write `x != value`",)
        elif c.tok.type == "_IS":
            not_hints = ("write `x is not null`",)
        elif str(c.tok.value).lower() == "followed":
            not_hints = ("a sequence reads `has A not followed by B`",)
        return Diagnostic(
            code="syntax",
            message=f"expected `in` or `contains` after `not`, found {c.found}",
            span=c.span,
            hints=not_hints,
        )
    return None


def _between_without_and(c: _Context) -> Diagnostic | None:
    if _open_between(c.prev_tokens) and "_AND" in c.expected:
        return Diagnostic(
            code="syntax",
            message=f"expected `and` to complete `between … and …`, found {c.found}",
            span=c.span,
            hints=("write it as `x between 10 and 20` (both ends included)",),
        )
    return None


def _misplaced_where(c: _Context) -> Diagnostic | None:
    # `x where C`: only aggregates and `has` take a `where`
    if c.tok.type == "_WHERE" and "_WHERE" not in c.expected:
        where_hint = "write e.g. `count(orders where amount > 50) > 2` or `has orders where …`"
        if len(c.prev_tokens) >= 2 and c.prev_tokens[-2].type == "_WITHIN":
            where_hint = (
                "`where` comes before `within`: `count(orders where amount > 50 within 30d)`"
            )
        return Diagnostic(
            code="misplaced-clause",
            message="`where` is only allowed inside an aggregate such as `count(...)` or "
            "after `has E`",
            span=c.span,
            hints=(where_hint,),
        )
    return None


def _generic(c: _Context) -> Diagnostic:
    """What the parser expected, with hints for common slips."""
    expected = set(c.expected)
    if _unclosed_bracket(c.prev_tokens) is None:
        expected = expected - {"RPAR", "RSQB", "COMMA"}
    exp = _describe_expected(expected)
    hints: list[str] = []
    if c.tok.type == "RPAR" and _unclosed_bracket(c.prev_tokens) is None:
        hints.append("this `)` has no matching `(`")
        return Diagnostic(
            code="unbalanced-bracket", message="unmatched `)`", span=c.span, hints=tuple(hints)
        )
    if (
        c.tok.type == "NAME"
        and c.prev is not None
        and c.prev.type in ("NAME", "QUOTED_NAME", "RPAR")
    ):
        hints.append("join conditions with `and` or `or`; quote names with spaces in backticks")
    spaced_unit = _unit_guess(str(c.tok.value)) if c.tok.type == "NAME" else None
    if spaced_unit and c.prev is not None and c.prev.type == "INT":
        hints.append(f"write a duration without a space: `{c.prev.value}{spaced_unit}`")
    if (
        c.tok.type == "RPAR"
        and c.prev is not None
        and c.prev.type == "LPAR"
        and len(c.prev_tokens) > 1
        and c.prev_tokens[-2].type == "IN"
    ):
        hints.append("an empty list is written `[]`")
    if c.tok.type == "LPAR" and c.prev is not None and c.prev.type in ("NOW", "TODAY"):
        hints.append(f"`{c.prev_low}` is written without parentheses")
    if (
        c.tok.type == "DOT"
        and c.prev is not None
        and c.prev.type == "INT"
        and c.prev.end_pos == c.pos
    ):
        hints.append(f"write decimals with digits after the point: `{c.prev.value}.0`")
    elif c.tok.type == "DOT" and (frac := re.match(r"\.\d+", c.text[c.pos :])):
        hints.append(f"write decimals with a digit before the point: `0{frac.group(0)}`")
    return Diagnostic(
        code="syntax",
        message=f"expected {exp}{c.after}, found {c.found}",
        span=c.span,
        hints=tuple(hints),
    )


RULES: tuple[Callable[[_Context], Diagnostic | None], ...] = (
    _double_equals,
    _sql_not_equal,
    _glued_comparison,
    _date_space_time,
    _unit_glued_to_number,
    _end_of_input,
    _chained_comparison,
    _not_after_bare_where,
    _and_in_bare_where,
    _keyword_as_value,
    _quote_in_string,
    _after_keyword,
    _top_without_percent,
    _not_without_in,
    _between_without_and,
    _misplaced_where,
)
"""Recognisers of common mistakes, tried in order; each is one named rule."""
