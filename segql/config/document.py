"""Positioned documents: YAML, TOML and JSON files read into one tree of :class:`Node`.

Every node knows its span in the file. String scalars also carry ``offsets``: the file
offset of each character of the decoded string, so a problem found at character ``i`` of
a YAML block string, a TOML multi-line string or a JSON string with escapes maps back to
the exact line and column it was written on (see :func:`segql.diagnostics.relocate`).

YAML is read with PyYAML's composer (which keeps marks); JSON and TOML are validated by
the standard library first and then scanned here for positions.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
import yaml.constructor
import yaml.nodes
import yaml.reader

from segql.core.diagnostics import Diagnostic, SchemaError, Span, span_at
from segql.core.schema import Located

__all__ = [
    "FORMATS",
    "Format",
    "Node",
    "format_of",
    "from_python",
    "load_document",
    "looks_like_path",
]

Format = Literal["yaml", "toml", "json", "dict"]
Kind = Literal["map", "list", "scalar"]
FORMATS: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Node:
    """A mapping, list or scalar of a loaded document.

    ``value`` is the Python value of a scalar. ``raw`` is a scalar's text: the decoded string
    for strings, and for YAML scalars of any type the text as written (so ``NO`` or ``1.0``
    can be read back as a string). ``offsets`` maps each character of ``raw`` to its file
    offset. Maps keep their entries in order as ``(key, value)`` pairs; keys are scalars
    whose ``value`` is a str. ``span`` is None for documents built from Python objects."""

    kind: Kind
    span: Span | None = None
    value: Any = None
    raw: str | None = None
    offsets: tuple[int, ...] | None = None
    plain: bool = False  # a YAML plain (unquoted) scalar
    flow: bool = False  # inside a YAML flow collection (`{…}`, `[…]`): no block strings
    items: tuple[Node, ...] = ()
    entries: tuple[tuple[Node, Node], ...] = ()
    file: str | None = None
    text: str | None = field(default=None, repr=False)
    fmt: Format = "dict"

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    @property
    def is_list(self) -> bool:
        return self.kind == "list"

    @property
    def is_scalar(self) -> bool:
        return self.kind == "scalar"

    def keys(self) -> list[str]:
        return [str(k.value) for k, _ in self.entries]

    def entry(self, key: str) -> tuple[Node, Node] | None:
        """The ``(key node, value node)`` pair for ``key``, or None."""
        for k, v in self.entries:
            if k.value == key:
                return k, v
        return None

    def get(self, key: str) -> Node | None:
        hit = self.entry(key)
        return hit[1] if hit is not None else None

    def string(self) -> str | None:
        """The scalar as text: a string value, or a non-null YAML plain scalar as written."""
        if self.kind != "scalar":
            return None
        if isinstance(self.value, str):
            return self.value
        if self.plain and self.value is not None and self.raw is not None:
            return self.raw
        return None

    def located(self) -> Located:
        """Where this node was written; offsets are those of :meth:`string`."""
        if self.span is None:
            return Located()
        return Located(file=self.file, text=self.text, span=self.span, offsets=self.offsets)

    def to_python(self) -> Any:
        if self.kind == "map":
            return {str(k.value): v.to_python() for k, v in self.entries}
        if self.kind == "list":
            return [i.to_python() for i in self.items]
        return self.value


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def format_of(path: str | Path) -> Format | None:
    """The format named by a file's suffix (``.yaml .yml .toml .json``), or None."""
    return FORMATS.get(Path(path).suffix.lower())


def looks_like_path(source: str) -> bool:
    """Whether a str names a file rather than holding document text."""
    if "\n" in source or not source.strip() or source.lstrip()[:1] in ("{", "["):
        return False
    try:
        if Path(source).is_file():
            return True
    except (OSError, ValueError):
        return False
    # a one-line document such as `a: b.yaml` or `a = "b.json"` is text, not a path
    return format_of(source) is not None and re.search(r":\s|=", source) is None


def _sniff(text: str) -> Format:
    for line in text.split("\n"):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith(("{", "[{", "[]")) and not s.startswith("[["):
            return "json"
        if s.startswith("[") or re.match(r"""[A-Za-z0-9_\-."']+\s*=""", s):
            return "toml"
        return "yaml"
    return "yaml"


def _fail(
    code: str,
    message: str,
    *,
    file: str | None,
    text: str | None = None,
    span: Span | None = None,
    hints: tuple[str, ...] = (),
) -> SchemaError:
    return SchemaError(
        Diagnostic(
            code=code,
            message=message,
            span=span or span_at("", 0),
            hints=hints,
            file=file,
            source=text,
        )
    )


def load_document(
    source: str | Path | Mapping[Any, Any],
    *,
    fmt: Format | None = None,
    name: str | None = None,
) -> Node:
    """Load a YAML, TOML or JSON document (a path, the text itself, or a plain dict).

    A ``Path``, or a one-line str ending in ``.yaml``/``.yml``/``.toml``/``.json`` (or naming
    an existing file), is read from disk and its format taken from the suffix; other strs
    are document text (format sniffed unless ``fmt`` is given). ``name`` labels text in
    diagnostics (default ``<string>``). Raises :class:`SchemaError` (``config-io``,
    ``config-syntax``, ``duplicate-key``) when the document cannot be read."""
    if isinstance(source, Mapping):
        node = from_python(source, file=name)
        _raise_on_surrogates(node)
        return node
    if isinstance(source, Path) or looks_like_path(source):
        path = Path(source)
        file = name or str(source)
        kind = fmt or format_of(path)
        if kind is None or kind == "dict":
            raise _fail(
                "config-io",
                f"cannot tell the format of `{path}` from its suffix",
                file=file,
                hints=("use a .yaml, .yml, .toml or .json file",),
            )
        text = read_text(path, file=file)
    else:
        file = name or "<string>"
        text = source
        kind = fmt
    return parse_text(text, fmt=kind, name=file)


def read_text(path: Path, *, file: str | None = None) -> str:
    """A file's text, decoded as strict UTF-8 (a byte order mark stays, as U+FEFF; line
    endings are not translated). Raises a positioned ``config-io`` :class:`SchemaError`
    when the file cannot be read or is not UTF-8."""
    label = file or str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _fail("config-io", f"cannot read `{path}`: {e.strerror or e}", file=label) from None
    return decode_text(raw, file=label)


def decode_text(raw: bytes, *, file: str) -> str:
    """``raw`` as UTF-8; undecodable bytes are a ``config-io`` error at their line and
    column (the shown line has U+FFFD where the bad byte is)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        good = raw[: e.start].decode("utf-8")
        text = good + raw[e.start :].decode("utf-8", errors="replace")
        span = span_at(text, len(good), len(good) + 1)
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = "the file is UTF-16: save it as UTF-8"
        else:
            hint = "save the file as UTF-8 (it may be Latin-1 or Windows-1252)"
        raise _fail(
            "config-io",
            f"`{file}` is not UTF-8 text: byte 0x{raw[e.start]:02x} on line {span.line}, "
            f"column {span.column} cannot be decoded",
            file=file,
            text=text,
            span=span,
            hints=(hint,),
        ) from None


_SURROGATE = re.compile("[\ud800-\udfff]")
_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _combine_pair(m: re.Match[str]) -> str:
    high, low = (ord(c) for c in m.group())
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def parse_text(text: str, *, fmt: Format | None = None, name: str | None = None) -> Node:
    """Parse document text (never a path). A leading byte order mark is ignored and CRLF
    line endings (in YAML also lone CRs) are read as LF: spans are offsets into that
    normalized text. The format is sniffed unless given; ``name`` labels diagnostics
    (default ``<string>``)."""
    file = name or "<string>"
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    kind = fmt or _sniff(text)
    if kind == "yaml":
        text = text.replace("\r", "\n")  # a lone CR is a line break in YAML: count it as one
    if (bad := _SURROGATE.search(text)) is not None:
        raise _fail(
            "config-syntax",
            f"the text contains a lone surrogate U+{ord(bad.group()):04X}, which is not a "
            "character",
            file=file,
            text=text,
            span=span_at(text, bad.start(), bad.end()),
            hints=("was the text decoded correctly?",),
        )
    try:
        if kind == "yaml":
            node = _load_yaml(text, file)
        elif kind == "toml":
            node = _load_toml(text, file)
        elif kind == "json":
            node = _load_json(text, file)
        else:
            raise _fail("config-io", f"unknown document format `{kind}`", file=file)
    except RecursionError:
        raise _fail(
            "config-syntax", "the document is nested too deeply", file=file, text=text
        ) from None
    _raise_on_surrogates(node)
    return node


def _raise_on_surrogates(root: Node) -> None:
    """Refuse strings holding lone surrogates (from Python dicts; the parsers refuse them
    as they read): they are not characters and could not even be printed."""
    diags: list[Diagnostic] = []
    stack = [root]
    seen: set[int] = set()  # YAML aliases share nodes: visit each once
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.items)
        for k, v in node.entries:
            stack += [k, v]
        if (d := _surrogate_diag(node)) is not None:
            diags.append(d)
    if diags:
        diags.sort(key=lambda d: d.span.start)
        raise SchemaError(diags)


def _surrogate_diag(node: Node) -> Diagnostic | None:
    """A diagnostic for a scalar holding a surrogate (escapes such as ``\\ud800``)."""
    value = node.value if isinstance(node.value, str) else node.raw
    if not isinstance(value, str) or (bad := _SURROGATE.search(value)) is None:
        return None
    span = node.span
    if span is not None and node.offsets and node.text is not None:
        at = node.offsets[min(bad.start(), len(node.offsets) - 1)]
        span = _escape_span(node.text, at)
    return Diagnostic(
        code="config-syntax",
        message=f"a lone surrogate U+{ord(bad.group()):04X} is not a character",
        span=span or span_at("", 0),
        hints=("write the character itself (or an escape of its code point)",),
        file=node.file,
        source=node.text,
    )


def _without_surrogates(node: Node, diags: list[Diagnostic]) -> Node:
    """``node``, or when it holds surrogates a copy with U+FFFD in their place (so that
    later messages quoting it can be printed), the problem added to ``diags``."""
    d = _surrogate_diag(node)
    if d is None:
        return node
    diags.append(d)

    def clean(x: Any) -> Any:
        return _SURROGATE.sub("\ufffd", x) if isinstance(x, str) else x

    return dataclasses.replace(node, value=clean(node.value), raw=clean(node.raw))


def _escape_span(text: str, at: int) -> Span:
    """The span of the escape sequence (``\\ud800``, ``\\x..``) or character at ``at``."""
    m = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2})").match(text, at)
    return span_at(text, at, m.end() if m else at + 1)


def from_python(
    obj: Any, *, file: str | None = None, text: str | None = None, fmt: Format = "dict"
) -> Node:
    """A tree without positions, from plain Python values (dicts, lists, scalars)."""
    if isinstance(obj, Mapping):
        entries = tuple(
            (
                Node(kind="scalar", value=str(k), raw=str(k), file=file, text=text, fmt=fmt),
                from_python(v, file=file, text=text, fmt=fmt),
            )
            for k, v in obj.items()
        )
        return Node(kind="map", entries=entries, file=file, text=text, fmt=fmt)
    if isinstance(obj, list | tuple):
        items = tuple(from_python(v, file=file, text=text, fmt=fmt) for v in obj)
        return Node(kind="list", items=items, file=file, text=text, fmt=fmt)
    return Node(
        kind="scalar",
        value=obj,
        raw=obj if isinstance(obj, str) else None,
        file=file,
        text=text,
        fmt=fmt,
    )


def _duplicate(key: Node, first: Node) -> Diagnostic:
    hints: tuple[str, ...] = ()
    if first.span is not None:
        hints = (f"`{key.value}` is first defined on line {first.span.line}",)
    return Diagnostic(
        code="duplicate-key",
        message=f"duplicate key `{key.value}`",
        span=key.span or span_at("", 0),
        hints=hints,
        file=key.file,
        source=key.text,
    )


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


def _load_yaml(text: str, file: str) -> Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        raise SchemaError(_yaml_error(e, text, file)) from None
    except yaml.reader.ReaderError as e:
        pos = min(e.position, len(text))
        raise _fail(
            "config-syntax",
            f"invalid YAML: unacceptable character {e.character!r}",
            file=file,
            text=text,
            span=span_at(text, pos, min(pos + 1, len(text))),
        ) from None
    except yaml.YAMLError as e:
        raise _fail("config-syntax", f"invalid YAML: {e}", file=file, text=text) from None
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
            shown = _SURROGATE.sub("\ufffd", raw)  # reported on its own
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
            if n.style == '"' and _SURROGATE.search(n.value):
                # JSON's way of writing astral characters, "\\ud83d\\ude00", read as JSON does
                n.value = _PAIR.sub(_combine_pair, n.value)
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
            return _without_surrogates(node, self.diags)
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
                self.diags.append(_duplicate(key, seen[key.value]))
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


def _too_long(digits: str, text: str, start: int, end: int, file: str) -> Diagnostic:
    n = len(digits.strip("+-").replace("_", ""))
    return Diagnostic(
        code="config-syntax",
        message=f"a number with {n:,} digits is too long "
        f"(the limit is {sys.get_int_max_str_digits():,})",
        span=span_at(text, start, end),
        file=file,
        source=text,
    )


def _load_json(text: str, file: str) -> Node:
    if not text.strip():  # an empty file is an empty document, as in YAML and TOML
        return Node(kind="map", span=span_at(text, 0), file=file, text=text, fmt="json")
    try:
        json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        pos = min(e.pos, len(text))
        raise _fail(
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
                    self.diags.append(_duplicate(key, seen[key.value]))
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
            self.diags.append(_too_long(value, t, start, self.p, self.file))
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
        return _without_surrogates(node, self.diags)


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


def _load_toml(text: str, file: str) -> Node:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SchemaError(_toml_error(e, text, file)) from None
    except ValueError:  # an integer with more digits than Python converts
        limit = sys.get_int_max_str_digits()
        m = re.search(rf"(?<![\w.'\"])[+-]?[0-9][0-9_]{{{limit},}}", text)
        start, end = (m.start(), m.end()) if m is not None else (0, 0)
        digits = text[start:end] or "0" * (limit + 1)
        raise SchemaError(_too_long(digits, text, start, end, file)) from None
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
