"""TOML documents: validated by the standard library, then scanned here for positions."""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from typing import Any

from segql.config.json_format import too_long
from segql.config.nodes import Node, from_python
from segql.core.diagnostics import Diagnostic, SchemaError, Span, span_at

# ---------------------------------------------------------------------------------------
# TOML
# ---------------------------------------------------------------------------------------

_TOML_ERR = re.compile(
    r"^(?P<msg>.*?) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S
)
_TOML_BARE = re.compile(r"[A-Za-z0-9_-]+")
_TOML_ATOM = re.compile(r"[^,\]}#\n]+")
_TOML_ESCAPES = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "e": "\x1b",
}


def _toml_error(e: tomllib.TOMLDecodeError, text: str, file: str) -> Diagnostic:
    m = _TOML_ERR.match(str(e))
    msg = m.group("msg") if m else str(e)
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    if m and m.group("line"):
        line = min(int(m.group("line")), len(starts))
        pos = min(starts[line - 1] + int(m.group("col")) - 1, len(text))
    else:
        pos = len(text)
        line = len(starts)
        while line > 1 and not text[starts[line - 1] :].strip():
            line -= 1
    if msg.startswith(("Cannot overwrite a value", "Cannot declare")):
        # tomllib points past the redefinition; point at the key of that line instead
        bol = starts[line - 1]
        line_text = text[bol:].split("\n", 1)[0]
        body = line_text.strip()
        head = body.split("=", 1)[0].rstrip() if not body.startswith("[") else body
        key = head.strip("[] ") if body.startswith("[") else head
        begin = bol + len(line_text) - len(line_text.lstrip())
        return Diagnostic(
            code="duplicate-key",
            message=f"duplicate key `{key}`",
            span=span_at(text, begin, begin + len(head)),
            hints=("each key and each [table] may be defined only once",),
            file=file,
            source=text,
        )
    return Diagnostic(
        code="config-syntax",
        message=f"invalid TOML: {msg[:1].lower()}{msg[1:]}",
        span=span_at(text, pos, min(pos + 1, len(text))),
        file=file,
        source=text,
    )


def load_toml(text: str, file: str) -> Node:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SchemaError(_toml_error(e, text, file)) from None
    except ValueError:  # an integer with more digits than Python converts
        limit = sys.get_int_max_str_digits()
        m = re.search(rf"(?<![\w.'\"])[+-]?[0-9][0-9_]{{{limit},}}", text)
        start, end = (m.start(), m.end()) if m is not None else (0, 0)
        digits = text[start:end] or "0" * (limit + 1)
        raise SchemaError(too_long(digits, text, start, end, file)) from None
    try:
        node: Node | None = _TomlScanner(text, file).document()
    except (IndexError, ValueError, AssertionError, tomllib.TOMLDecodeError):
        node = None
    if node is None or node.to_python() != data:
        # A scanner miss must never lose the document: fall back to values without positions.
        return from_python(data, file=file, text=text, fmt="toml")
    return node


@dataclass
class _Table:
    """A TOML table while it is being built (tables may be reopened by dotted keys)."""

    span: Span | None
    entries: dict[str, tuple[Node, Node | _Table | _TableArray]] = field(default_factory=dict)


@dataclass
class _TableArray:
    span: Span
    tables: list[_Table] = field(default_factory=list)


class _TomlScanner:
    """Positions for a document ``tomllib`` has already accepted."""

    def __init__(self, text: str, file: str) -> None:
        self.t = text
        self.p = 0
        self.file = file

    # -- helpers -----------------------------------------------------------------------

    def blank(self, *, newlines: bool) -> None:
        t, n = self.t, len(self.t)
        while self.p < n:
            ch = t[self.p]
            if ch in " \t" or (newlines and ch == "\n"):
                self.p += 1
            elif ch == "#" and newlines:
                while self.p < n and t[self.p] != "\n":
                    self.p += 1
            else:
                break

    def scalar(self, start: int, value: Any, offsets: tuple[int, ...] | None = None) -> Node:
        return Node(
            kind="scalar",
            span=span_at(self.t, start, self.p),
            value=value,
            raw=value if isinstance(value, str) else None,
            offsets=offsets,
            file=self.file,
            text=self.t,
            fmt="toml",
        )

    def freeze(self, table: _Table, span: Span | None = None) -> Node:
        entries = []
        for key, val in table.entries.values():
            if isinstance(val, _Table):
                val = self.freeze(val)
            elif isinstance(val, _TableArray):
                items = tuple(self.freeze(x) for x in val.tables)
                val = Node(
                    kind="list", span=val.span, items=items, file=self.file, text=self.t, fmt="toml"
                )
            entries.append((key, val))
        return Node(
            kind="map",
            span=span or table.span,
            entries=tuple(entries),
            file=self.file,
            text=self.t,
            fmt="toml",
        )

    # -- structure ---------------------------------------------------------------------

    def document(self) -> Node:
        root = _Table(span=span_at(self.t, 0))
        current = root
        n = len(self.t)
        while True:
            self.blank(newlines=True)
            if self.p >= n:
                break
            if self.t.startswith("[[", self.p):
                self.p += 2
                keys = self.key()
                self.blank(newlines=False)
                self.p += 2
                current = self.open_array(root, keys)
            elif self.t[self.p] == "[":
                self.p += 1
                keys = self.key()
                self.blank(newlines=False)
                self.p += 1
                current = self.open_table(root, keys)
            else:
                keys = self.key()
                self.blank(newlines=False)
                self.p += 1  # =
                self.blank(newlines=False)
                self.put(current, keys, self.value())
        return self.freeze(root)

    def descend(self, table: _Table, keys: list[Node]) -> _Table:
        for k in keys:
            hit = table.entries.get(k.value)
            if hit is None:
                child = _Table(span=k.span)
                table.entries[k.value] = (k, child)
                table = child
            elif isinstance(hit[1], _Table):
                table = hit[1]
            elif isinstance(hit[1], _TableArray):
                table = hit[1].tables[-1]
            else:
                raise ValueError("not a table")
        return table

    def open_table(self, root: _Table, keys: list[Node]) -> _Table:
        parent = self.descend(root, keys[:-1])
        last = keys[-1]
        hit = parent.entries.get(last.value)
        if hit is not None and isinstance(hit[1], _Table):
            return hit[1]
        table = _Table(span=last.span)
        parent.entries[last.value] = (last, table)
        return table

    def open_array(self, root: _Table, keys: list[Node]) -> _Table:
        parent = self.descend(root, keys[:-1])
        last = keys[-1]
        assert last.span is not None
        hit = parent.entries.get(last.value)
        table = _Table(span=last.span)
        if hit is not None and isinstance(hit[1], _TableArray):
            hit[1].tables.append(table)
        else:
            parent.entries[last.value] = (last, _TableArray(span=last.span, tables=[table]))
        return table

    def put(self, table: _Table, keys: list[Node], value: Node) -> None:
        parent = self.descend(table, keys[:-1])
        parent.entries[keys[-1].value] = (keys[-1], value)

    def key(self) -> list[Node]:
        parts: list[Node] = []
        while True:
            self.blank(newlines=False)
            start = self.p
            ch = self.t[start]
            if ch == '"':
                parts.append(self.basic())
            elif ch == "'":
                parts.append(self.literal())
            else:
                m = _TOML_BARE.match(self.t, start)
                assert m is not None
                self.p = m.end()
                parts.append(self.scalar(start, m.group(), tuple(range(start, self.p))))
            self.blank(newlines=False)
            if self.p < len(self.t) and self.t[self.p] == ".":
                self.p += 1
                continue
            return parts

    # -- values ------------------------------------------------------------------------

    def value(self) -> Node:
        t, start = self.t, self.p
        if t.startswith('"""', start):
            return self.multiline(basic=True)
        if t.startswith("'''", start):
            return self.multiline(basic=False)
        ch = t[start]
        if ch == '"':
            return self.basic()
        if ch == "'":
            return self.literal()
        if ch == "[":
            self.p += 1
            items: list[Node] = []
            while True:
                self.blank(newlines=True)
                if t[self.p] == "]":
                    self.p += 1
                    break
                items.append(self.value())
                self.blank(newlines=True)
                if t[self.p] == ",":
                    self.p += 1
            return Node(
                kind="list",
                span=span_at(t, start, self.p),
                items=tuple(items),
                file=self.file,
                text=t,
                fmt="toml",
            )
        if ch == "{":
            self.p += 1
            table = _Table(span=None)
            while True:
                self.blank(newlines=True)
                if t[self.p] == "}":
                    self.p += 1
                    break
                keys = self.key()
                self.blank(newlines=False)
                self.p += 1  # =
                self.blank(newlines=False)
                self.put(table, keys, self.value())
                self.blank(newlines=True)
                if t[self.p] == ",":
                    self.p += 1
            return self.freeze(table, span_at(t, start, self.p))
        m = _TOML_ATOM.match(t, start)
        assert m is not None
        raw = m.group().rstrip()
        self.p = start + len(raw)
        return self.scalar(start, tomllib.loads("v = " + raw)["v"])

    def escape(self, p: int) -> tuple[str, int]:
        e = self.t[p + 1]
        if e in _TOML_ESCAPES:
            return _TOML_ESCAPES[e], 2
        width = {"u": 4, "U": 8, "x": 2}[e]
        return chr(int(self.t[p + 2 : p + 2 + width], 16)), 2 + width

    def basic(self) -> Node:
        t, start = self.t, self.p
        p = start + 1
        chars: list[str] = []
        offs: list[int] = []
        while t[p] != '"':
            offs.append(p)
            if t[p] == "\\":
                c, width = self.escape(p)
                chars.append(c)
                p += width
            else:
                chars.append(t[p])
                p += 1
        self.p = p + 1
        return self.scalar(start, "".join(chars), tuple(offs))

    def literal(self) -> Node:
        start = self.p
        end = self.t.index("'", start + 1)
        self.p = end + 1
        return self.scalar(start, self.t[start + 1 : end], tuple(range(start + 1, end)))

    def multiline(self, *, basic: bool) -> Node:
        t, start = self.t, self.p
        quote = t[start]
        p = start + 3
        if t[p] == "\n":  # a newline right after the opening delimiter is trimmed
            p += 1
        chars: list[str] = []
        offs: list[int] = []
        while True:
            if t.startswith(quote * 3, p):
                q = p
                while q < len(t) and t[q] == quote:
                    q += 1
                for extra in range(p, q - 3):  # up to two quotes may end the content
                    chars.append(quote)
                    offs.append(extra)
                self.p = q
                break
            if basic and t[p] == "\\":
                q = p + 1
                while t[q] in " \t":
                    q += 1
                if t[q] == "\n":  # line-ending backslash: trim the break and what follows
                    while q < len(t) and t[q] in " \t\n":
                        q += 1
                    p = q
                    continue
                c, width = self.escape(p)
                chars.append(c)
                offs.append(p)
                p += width
                continue
            chars.append(t[p])
            offs.append(p)
            p += 1
        return self.scalar(start, "".join(chars), tuple(offs))
