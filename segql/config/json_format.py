"""JSON documents: validated by the standard library, then scanned here for positions."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from segql.config.nodes import Node, duplicate, fail, without_surrogates
from segql.core.diagnostics import Diagnostic, SchemaError, span_at

# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------

_JSON_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_JSON_ATOM = re.compile(
    r"-?Infinity|NaN|true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
)
_JSON_WS = re.compile(r"[ \t\n\r]*")


class _LongNumber(str):
    """An integer with more digits than Python converts (``sys.get_int_max_str_digits``)."""

    __slots__ = ()


def _json_int(digits: str) -> int | _LongNumber:
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        return _LongNumber(digits)
    return int(digits)


def too_long(digits: str, text: str, start: int, end: int, file: str) -> Diagnostic:
    n = len(digits.strip("+-").replace("_", ""))
    return Diagnostic(
        code="config-syntax",
        message=f"a number with {n:,} digits is too long "
        f"(the limit is {sys.get_int_max_str_digits():,})",
        span=span_at(text, start, end),
        file=file,
        source=text,
    )


def load_json(text: str, file: str) -> Node:
    if not text.strip():  # an empty file is an empty document, as in YAML and TOML
        return Node(kind="map", span=span_at(text, 0), file=file, text=text, fmt="json")
    try:
        json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        pos = min(e.pos, len(text))
        raise fail(
            "config-syntax",
            f"invalid JSON: {e.msg}",
            file=file,
            text=text,
            span=span_at(text, pos, min(pos + 1, len(text))),
        ) from None
    scanner = _JsonScanner(text, file)
    node = scanner.value()
    if scanner.diags:
        raise SchemaError(scanner.diags)
    return node


class _JsonScanner:
    """Positions for a document ``json.loads`` has already accepted."""

    def __init__(self, text: str, file: str) -> None:
        self.t = text
        self.p = 0
        self.file = file
        self.diags: list[Diagnostic] = []

    def ws(self) -> None:
        m = _JSON_WS.match(self.t, self.p)
        assert m is not None
        self.p = m.end()

    def node(self, start: int, **kw: Any) -> Node:
        return Node(
            span=span_at(self.t, start, self.p), file=self.file, text=self.t, fmt="json", **kw
        )

    def value(self) -> Node:
        self.ws()
        t, start = self.t, self.p
        c = t[start]
        if c == "{":
            self.p += 1
            entries: list[tuple[Node, Node]] = []
            seen: dict[str, Node] = {}
            self.ws()
            if t[self.p] == "}":
                self.p += 1
                return self.node(start, kind="map")
            while True:
                self.ws()
                key = self.string()
                self.ws()
                self.p += 1  # :
                val = self.value()
                if key.value in seen:
                    self.diags.append(duplicate(key, seen[key.value]))
                else:
                    seen[key.value] = key
                    entries.append((key, val))
                self.ws()
                self.p += 1  # , or }
                if t[self.p - 1] == "}":
                    return self.node(start, kind="map", entries=tuple(entries))
        if c == "[":
            self.p += 1
            items: list[Node] = []
            self.ws()
            if t[self.p] == "]":
                self.p += 1
                return self.node(start, kind="list")
            while True:
                items.append(self.value())
                self.ws()
                self.p += 1
                if t[self.p - 1] == "]":
                    return self.node(start, kind="list", items=tuple(items))
        if c == '"':
            return self.string()
        m = _JSON_ATOM.match(t, start)
        assert m is not None
        self.p = m.end()
        value = json.loads(m.group(), parse_int=_json_int)
        if isinstance(value, _LongNumber):
            self.diags.append(too_long(value, t, start, self.p, self.file))
            value = None
        return self.node(start, kind="scalar", value=value)

    def string(self) -> Node:
        t, start = self.t, self.p
        p = start + 1
        chars: list[str] = []
        offs: list[int] = []
        while t[p] != '"':
            offs.append(p)
            if t[p] != "\\":
                chars.append(t[p])
                p += 1
                continue
            e = t[p + 1]
            if e != "u":
                chars.append(_JSON_ESCAPES[e])
                p += 2
                continue
            code = int(t[p + 2 : p + 6], 16)
            p += 6
            if 0xD800 <= code < 0xDC00 and t.startswith("\\u", p):
                low = int(t[p + 2 : p + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    p += 6
            chars.append(chr(code))
        self.p = p + 1
        s = "".join(chars)
        node = self.node(start, kind="scalar", value=s, raw=s, offsets=tuple(offs))
        return without_surrogates(node, self.diags)
