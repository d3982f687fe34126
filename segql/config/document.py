"""Reading configuration documents: a file, text or Python value in YAML, TOML or JSON
becomes one tree of positioned :class:`~segql.config.nodes.Node` (one module per format).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from segql.config.json_format import load_json
from segql.config.nodes import FORMATS, SURROGATE, Format, Node, fail, from_python, surrogate_diag
from segql.config.toml_format import load_toml
from segql.config.yaml_format import load_yaml
from segql.core.diagnostics import Diagnostic, SchemaError, span_at

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
            raise fail(
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
        raise fail("config-io", f"cannot read `{path}`: {e.strerror or e}", file=label) from None
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
        raise fail(
            "config-io",
            f"`{file}` is not UTF-8 text: byte 0x{raw[e.start]:02x} on line {span.line}, "
            f"column {span.column} cannot be decoded",
            file=file,
            text=text,
            span=span,
            hints=(hint,),
        ) from None


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
    if (bad := SURROGATE.search(text)) is not None:
        raise fail(
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
            node = load_yaml(text, file)
        elif kind == "toml":
            node = load_toml(text, file)
        elif kind == "json":
            node = load_json(text, file)
        else:
            raise fail("config-io", f"unknown document format `{kind}`", file=file)
    except RecursionError:
        raise fail(
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
        if (d := surrogate_diag(node)) is not None:
            diags.append(d)
    if diags:
        diags.sort(key=lambda d: d.span.start)
        raise SchemaError(diags)
