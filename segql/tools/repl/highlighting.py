"""Syntax highlighting of a REPL line: token classes from the lexer, names from the
schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from segql.lang.functions import FUNCTIONS
from segql.lang.tokens import KEYWORDS
from segql.tools.repl.completion import ident
from segql.tools.repl.prefix import lex_all

if TYPE_CHECKING:
    from prompt_toolkit.lexers import Lexer

    from segql.core.schema import Schema


# ---------------------------------------------------------------------------------------
# Highlighting
# ---------------------------------------------------------------------------------------

STYLE: dict[str, str] = {
    "segql.keyword": "ansiblue bold",
    "segql.name": "",
    "segql.unknown": "underline",
    "segql.function": "ansicyan",
    "segql.string": "ansigreen",
    "segql.number": "ansimagenta",
    "segql.duration": "ansiyellow",
    "segql.operator": "ansibrightblue",
    "segql.punctuation": "",
    "segql.comment": "ansibrightblack italic",
    "segql.error": "bg:ansired ansiwhite",
    "completion-menu.completion": "bg:#444444 #ffffff",
    "completion-menu.completion.current": "bg:#00aaaa #000000",
    "completion-menu.meta.completion": "bg:#333333 #aaaaaa",
    "completion-menu.meta.completion.current": "bg:#00aaaa #000000",
}
_TOKEN_CLASS = {
    "INT": "number",
    "DECIMAL": "number",
    "DATE": "number",
    "TIMESTAMP": "number",
    "DURATION": "duration",
    "STRING": "string",
    "LPAR": "punctuation",
    "RPAR": "punctuation",
    "LSQB": "punctuation",
    "RSQB": "punctuation",
    "COMMA": "punctuation",
    "DOT": "punctuation",
}


def known_names(schema: Schema) -> frozenset[str]:
    """Every name an expression may mention: fields, traits, streams and their fields,
    segments and functions."""
    names = {*schema.entity.fields, *schema.traits, *schema.streams, *schema.segments}
    for st in schema.streams.values():
        names.update(st.fields)
        names.add(st.time)
    names.update(FUNCTIONS)
    return frozenset(names)


def highlight(line: str, names: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """(style, text) fragments of one line. With ``names``, other names are marked
    ``class:segql.unknown``."""
    toks, fail = lex_all(line)
    out: list[tuple[str, str]] = []
    end = fail if fail is not None else len(line)
    pos = 0

    def gap(upto: int) -> None:
        text = line[pos:upto]
        if not text:
            return
        hash_at = text.find("#")
        if hash_at < 0:
            out.append(("", text))
        else:
            if hash_at:
                out.append(("", text[:hash_at]))
            out.append(("class:segql.comment", text[hash_at:]))

    for i, tok in enumerate(toks):
        gap(tok.start_pos)
        kind = tok.type
        value = str(tok.value)
        if kind in ("NAME", "QUOTED_NAME"):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if kind == "NAME" and nxt is not None and nxt.type == "LPAR":
                cls = "function"
            elif names is not None and ident(tok) not in names:
                cls = "unknown"
            else:
                cls = "name"
        elif value.lower() in KEYWORDS and kind != "STRING":
            cls = "keyword"
        elif kind in _TOKEN_CLASS:
            cls = _TOKEN_CLASS[kind]
        else:
            cls = "operator"
        out.append((f"class:segql.{cls}", value))
        pos = tok.end_pos
    gap(end)
    if fail is not None:
        out.append(("class:segql.error", line[fail:]))
    return out


def make_lexer(schema: Schema | Callable[[], Schema] | None = None) -> Lexer:
    """A prompt_toolkit Lexer over :func:`highlight`; ``schema`` may be a function giving
    the current one."""
    from prompt_toolkit.document import Document
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.lexers import Lexer

    class SegqlLexer(Lexer):
        def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
            lines = document.lines
            if lines and lines[0].lstrip().startswith(":"):
                return lambda i: [("class:segql.keyword", lines[i])] if i < len(lines) else []
            current = schema() if callable(schema) else schema
            names = known_names(current) if current is not None else None
            cache: dict[int, StyleAndTextTuples] = {}

            def get_line(i: int) -> StyleAndTextTuples:
                if i not in cache:
                    cache[i] = list(highlight(lines[i], names)) if i < len(lines) else []
                return cache[i]

            return get_line

    return SegqlLexer()
