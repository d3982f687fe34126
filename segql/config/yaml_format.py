"""YAML documents, read with PyYAML's composer (which keeps marks) into positioned nodes."""

from __future__ import annotations

import re
from typing import Any

import yaml
import yaml.constructor
import yaml.nodes
import yaml.reader

from segql.config.nodes import (
    SURROGATE,
    SURROGATE_PAIR,
    Node,
    combine_pair,
    duplicate,
    fail,
    without_surrogates,
)
from segql.core.diagnostics import Diagnostic, SchemaError, Span, span_at

# ---------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"
_YAML_TYPES = {"null", "bool", "int", "float", "binary", "timestamp", "str"}
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _trimmed(text: str, start: int, end: int) -> Span:
    end = max(start, min(end, len(text)))
    while end > start and text[end - 1] in " \t\n":
        end -= 1
    return span_at(text, start, end)


def _yaml_error(e: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    mark = e.problem_mark or e.context_mark
    pos = mark.index if mark is not None else 0
    problem = e.problem or e.context or "malformed document"
    hints: list[str] = []
    if "\t" in problem or "'\\t'" in problem:
        hints.append("YAML indentation must use spaces, not tabs")
    elif problem.startswith("mapping values are not allowed"):
        hints.append("check the indentation, or quote a value that contains `: `")
    elif problem.startswith("found character '`'") or problem.startswith("found character '@'"):
        hints.append("a value that starts with ` or @ must be quoted")
    if e.context and e.context_mark is not None and e.problem_mark is not None:
        cm = e.context_mark
        hints.append(f"{e.context} on line {cm.line + 1}")
    return Diagnostic(
        code="config-syntax",
        message=f"invalid YAML: {problem}",
        span=span_at(text, pos, min(pos + 1, len(text))),
        hints=tuple(hints),
        file=file,
        source=text,
    )


def load_yaml(text: str, file: str) -> Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise SchemaError(_yaml_error(e, text, file)) from None
    except yaml.reader.ReaderError as e:
        pos = min(e.position, len(text))
        raise fail(
            "config-syntax",
            f"invalid YAML: unacceptable character {e.character!r}",
            file=file,
            text=text,
            span=span_at(text, pos, min(pos + 1, len(text))),
        ) from None
    except yaml.YAMLError as e:
        raise fail("config-syntax", f"invalid YAML: {e}", file=file, text=text) from None
    if root is None:
        return Node(kind="map", span=span_at(text, 0), file=file, text=text, fmt="yaml")
    conv = _YamlConverter(text, file)
    node = conv.convert(root)
    if conv.diags:
        raise SchemaError(conv.diags)
    return node


# A node's properties (anchor, tag) before its content: `&a !!str value`, possibly with
# line breaks and comments in between.
_YAML_PROPS = re.compile(
    r"(?:(?:&[^\s,\[\]{}]+|!(?:<[^>]*>|[^\s,\[\]{}]*))(?:[ \t]+|[ \t]*(?:#[^\n]*)?\n[ \t]*)*)+"
)
_YAML_TAG = re.compile(r"!(?:<[^>]*>|[^\s,\[\]{}]*)")


def yaml_content_start(text: str, index: int) -> int:
    """The offset of a node's content, after the anchor and tag written at ``index``."""
    m = _YAML_PROPS.match(text, index)
    return m.end() if m is not None else index


class _YamlConverter:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.diags: list[Diagnostic] = []
        self.constructor = yaml.constructor.SafeConstructor()
        self.active: set[int] = set()
        self.done: dict[int, Node] = {}
        self.flow = 0  # depth of flow collections around the node being converted

    def convert(self, n: yaml.nodes.Node) -> Node:
        if id(n) in self.done:
            return self.done[id(n)]
        if id(n) in self.active:
            self.diags.append(self.diag("a YAML alias refers to itself", n))
            return Node(kind="scalar", span=self.span(n), file=self.file, text=self.text)
        self.active.add(id(n))
        try:
            out = self._convert(n)
        finally:
            self.active.discard(id(n))
        self.done[id(n)] = out
        return out

    def span(self, n: yaml.nodes.Node) -> Span:
        start = yaml_content_start(self.text, n.start_mark.index)
        return _trimmed(self.text, start, max(start, n.end_mark.index))

    def diag(self, message: str, n: yaml.nodes.Node, *hints: str) -> Diagnostic:
        return Diagnostic(
            code="config-syntax",
            message=message,
            span=self.span(n),
            hints=hints,
            file=self.file,
            source=self.text,
        )

    def explicit_tag(self, n: yaml.nodes.Node) -> str | None:
        """The tag written on a node (`!!bool`, `!foo`), or None when it was resolved."""
        props = self.text[n.start_mark.index : yaml_content_start(self.text, n.start_mark.index)]
        m = _YAML_TAG.search(props)
        return m.group() if m is not None else None

    def scalar_value(self, n: yaml.nodes.ScalarNode) -> Any:
        raw = str(n.value)
        if n.tag == _STR_TAG:
            return raw
        try:
            return self.constructor.construct_object(n, deep=True)
        except Exception:  # PyYAML's constructors fail in many ways
            tag = self.explicit_tag(n)
            if tag is None:  # an implicitly resolved value that does not construct: text
                return raw
        if n.tag.startswith("tag:yaml.org,2002:") and n.tag.rsplit(":", 1)[1] in _YAML_TYPES:
            shown = SURROGATE.sub("\ufffd", raw)  # reported on its own
            message = f"invalid YAML: `{shown}` is not a valid {tag} value"
            hint = "remove the tag to read the value as text"
        else:
            message = f"invalid YAML: unknown tag `{tag}`"
            hint = "segql reads plain YAML: remove the tag"
        self.diags.append(self.diag(message, n, hint))
        return raw

    def _convert(self, n: yaml.nodes.Node) -> Node:
        common: dict[str, Any] = {"file": self.file, "text": self.text, "fmt": "yaml"}
        if isinstance(n, yaml.nodes.ScalarNode):
            if n.style == '"' and SURROGATE.search(n.value):
                # JSON's way of writing astral characters, "\\ud83d\\ude00", read as JSON does
                n.value = SURROGATE_PAIR.sub(combine_pair, n.value)
            raw = str(n.value)
            node = Node(
                kind="scalar",
                span=self.span(n),
                value=self.scalar_value(n),
                raw=raw,
                offsets=yaml_offsets(self.text, n),
                plain=n.style is None,
                flow=self.flow > 0,
                **common,
            )
            return without_surrogates(node, self.diags)
        assert isinstance(n, yaml.nodes.CollectionNode)
        flow = bool(n.flow_style)
        self.flow += flow
        try:
            return self._collection(n, common)
        finally:
            self.flow -= flow

    def _collection(self, n: yaml.nodes.Node, common: dict[str, Any]) -> Node:
        flow = self.flow > 0
        if isinstance(n, yaml.nodes.SequenceNode):
            items = tuple(self.convert(i) for i in n.value)
            return Node(kind="list", span=self.span(n), items=items, flow=flow, **common)
        assert isinstance(n, yaml.nodes.MappingNode)
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        seen: dict[str, Node] = {}
        for kn, vn in n.value:
            if kn.tag == _MERGE_TAG:
                merged.extend(self.merge(vn))
                continue
            if not isinstance(kn, yaml.nodes.ScalarNode):
                self.diags.append(self.diag("a key must be a name, not a list or mapping", kn))
                continue
            key = self.convert(kn)
            key = Node(
                kind="scalar",
                span=key.span,
                value=key.raw,
                raw=key.raw,
                offsets=key.offsets,
                flow=flow,
                **common,
            )
            if key.value in seen:
                self.diags.append(duplicate(key, seen[key.value]))
                continue
            seen[key.value] = key
            own.append((key, self.convert(vn)))
        for k, v in merged:
            if k.value not in seen:
                seen[k.value] = k
                own.append((k, v))
        return Node(kind="map", span=self.span(n), entries=tuple(own), flow=flow, **common)

    def merge(self, vn: yaml.nodes.Node) -> list[tuple[Node, Node]]:
        sources = vn.value if isinstance(vn, yaml.nodes.SequenceNode) else [vn]
        out: list[tuple[Node, Node]] = []
        for s in sources:
            node = self.convert(s)
            if not node.is_map:
                self.diags.append(self.diag("`<<` merges mappings only", s))
                continue
            out.extend(node.entries)
        return out


class _Misaligned(Exception):
    pass


def yaml_offsets(text: str, n: yaml.nodes.ScalarNode) -> tuple[int, ...]:
    """File offsets of each character of a YAML scalar's value (any style)."""
    value = str(n.value)
    if not value:
        return ()
    start, end = yaml_content_start(text, n.start_mark.index), n.end_mark.index
    try:
        if n.style in ("|", ">"):
            return _block_offsets(text, start, value)
        return _flow_offsets(text, start, end, value, n.style or "")
    except (_Misaligned, IndexError):
        return _greedy_offsets(text, start, max(end, start + 1), value)


def _flow_offsets(text: str, start: int, end: int, value: str, style: str) -> tuple[int, ...]:
    p = start + (1 if style in ("'", '"') else 0)
    out: list[int] = []
    i = 0
    while i < len(value):
        if p >= end:
            raise _Misaligned
        c, ch = value[i], text[p]
        if style == '"' and ch == "\\":
            nxt = text[p + 1]
            if nxt == "\n":  # escaped line break: it and the next line's indentation vanish
                p += 2
                while text[p] in " \t":
                    p += 1
                continue
            out.append(p)
            p += {"x": 4, "u": 6, "U": 10}.get(nxt, 2)
            if nxt == "u" and ord(c) > 0xFFFF and text.startswith("\\u", p):
                p += 6  # a surrogate pair written as two escapes: one character
            i += 1
            continue
        if style == "'" and ch == "'":  # '' inside single quotes
            if c != "'":
                raise _Misaligned
            out.append(p)
            p += 2
            i += 1
            continue
        if ch == c:
            out.append(p)
            p += 1
            i += 1
            continue
        if ch == "\n" and c == " ":  # a folded line break
            out.append(p)
            p += 1
            while text[p] in " \t":
                p += 1
            i += 1
            continue
        if ch in " \t\n":  # whitespace dropped by folding
            p += 1
            continue
        raise _Misaligned
    return tuple(out)


def _block_offsets(text: str, start: int, value: str) -> tuple[int, ...]:
    p = text.index("\n", start) + 1  # skip the header: | or > with indicators and a comment
    # Content indentation: spaces before the first non-blank source line, minus the spaces
    # the value keeps at the start of its first non-blank line.
    m = re.compile(r"( *)[^ \n]").search(text, p)
    first = next((j for j, ch in enumerate(value) if ch not in " \n"), None)
    if m is None or first is None:
        indent = 0
    else:
        kept = first - (value.rfind("\n", 0, first) + 1)
        indent = len(m.group(1)) - kept
    out: list[int] = []
    i = 0
    at_line_start = True
    n = len(text)
    while i < len(value):
        if at_line_start:
            k = 0
            while k < indent and p < n and text[p] == " ":
                p += 1
                k += 1
            at_line_start = False
        c = value[i]
        if p >= n:
            if c != "\n":
                raise _Misaligned
            out.append(n)
            i += 1
            continue
        ch = text[p]
        if ch == c:
            out.append(p)
            p += 1
            i += 1
            at_line_start = ch == "\n"
            continue
        if ch == "\n":
            if c == " ":  # folded line break
                out.append(p)
                i += 1
            p += 1
            at_line_start = True
            continue
        raise _Misaligned
    return tuple(out)


def _greedy_offsets(text: str, start: int, end: int, value: str) -> tuple[int, ...]:
    """Last resort: match each character with the next equal one in the source."""
    out: list[int] = []
    p = start
    limit = max(end, start + len(value) * 2 + 16)
    for c in value:
        q = text.find(c, p, limit)
        if q < 0:
            out.append(min(p, len(text)))
        else:
            out.append(q)
            p = q + 1
    return tuple(out)
