"""Explaining a character no segql token starts with: operators from other languages
(`&&`, `||`, `!`), typographic quotes, letters outside ASCII, stray symbols."""

from __future__ import annotations

import re
import unicodedata

from segql.core.diagnostics import Diagnostic, span_at

__all__ = ["explain_chars"]


def explain_chars(text: str, pos: int) -> Diagnostic:
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
