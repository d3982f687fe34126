"""The positioned tree every configuration document is read into: :class:`Node`, and
the diagnostics its readers share.

Every node knows its span in the file. String scalars also carry ``offsets``: the file
offset of each character of the decoded string, so a problem found at character ``i`` of
a YAML block string, a TOML multi-line string or a JSON string with escapes maps back to
the exact line and column it was written on (see :func:`segql.core.diagnostics.relocate`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from segql.core.diagnostics import Diagnostic, SchemaError, Span, span_at
from segql.core.schema import Located

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


def fail(
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


def escape_span(text: str, at: int) -> Span:
    """The span of the escape sequence (``\\ud800``, ``\\x..``) or character at ``at``."""
    m = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2})").match(text, at)
    return span_at(text, at, m.end() if m else at + 1)


def duplicate(key: Node, first: Node) -> Diagnostic:
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


SURROGATE = re.compile("[\ud800-\udfff]")


SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def combine_pair(m: re.Match[str]) -> str:
    high, low = (ord(c) for c in m.group())
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def surrogate_diag(node: Node) -> Diagnostic | None:
    """A diagnostic for a scalar holding a surrogate (escapes such as ``\\ud800``)."""
    value = node.value if isinstance(node.value, str) else node.raw
    if not isinstance(value, str) or (bad := SURROGATE.search(value)) is None:
        return None
    span = node.span
    if span is not None and node.offsets and node.text is not None:
        at = node.offsets[min(bad.start(), len(node.offsets) - 1)]
        span = escape_span(node.text, at)
    return Diagnostic(
        code="config-syntax",
        message=f"a lone surrogate U+{ord(bad.group()):04X} is not a character",
        span=span or span_at("", 0),
        hints=("write the character itself (or an escape of its code point)",),
        file=node.file,
        source=node.text,
    )


def without_surrogates(node: Node, diags: list[Diagnostic]) -> Node:
    """``node``, or when it holds surrogates a copy with U+FFFD in their place (so that
    later messages quoting it can be printed), the problem added to ``diags``."""
    d = surrogate_diag(node)
    if d is None:
        return node
    diags.append(d)

    def clean(x: Any) -> Any:
        return SURROGATE.sub("\ufffd", x) if isinstance(x, str) else x

    return dataclasses.replace(node, value=clean(node.value), raw=clean(node.raw))


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
