"""`segql fmt`: rewrite the expressions inside schema and catalog files in canonical form.

Only the text of each expression value changes; comments, key order, other keys and the
rest of the layout stay byte-for-byte. Every rewrite is verified by loading the result and
comparing the parsed expressions with the originals, so a bug can never corrupt a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from .diagnostics import Diagnostic, SchemaError, SegqlError, relocate
from .document import Format, Node, load_document
from .formatter import format_expr
from .syntax import parse

__all__ = ["expression_nodes", "format_file", "format_text"]


def expression_nodes(doc: Node) -> Iterator[tuple[Node, Node]]:
    """(key node, value node) of every segql expression in a schema or catalog document:
    ``segments.*.where`` (or a segment given as plain text), ``traits.*`` (or
    ``traits.*.expr``) and ``events.*.where``."""
    if not doc.is_map:
        return
    for section, field in (("segments", "where"), ("traits", "expr"), ("events", "where")):
        group = doc.get(section)
        if group is None or not group.is_map:
            continue
        for key, value in group.entries:
            if value.is_map:
                hit = value.entry(field)
                if hit is not None and isinstance(hit[1].value, str):
                    yield hit
            elif section != "events" and isinstance(value.value, str):
                yield key, value


def format_file(path: Path) -> tuple[str, str]:
    """(new text, old text) of a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SchemaError(
            Diagnostic(code="config-read", message=f"cannot read {path}: {e.strerror}")
        ) from None
    return format_text(text, name=str(path), path=path), text


def format_text(
    text: str, *, name: str, path: Path | None = None, fmt: Format | None = None
) -> str:
    doc = load_document(text if path is None else path, fmt=fmt, name=name)
    edits: list[tuple[int, int, str]] = []
    problems: list[Diagnostic] = []
    originals = []
    for key, value in expression_nodes(doc):
        source = value.value
        assert isinstance(source, str)
        try:
            tree = parse(source)
        except SegqlError as e:
            loc = value.located()
            problems += [
                relocate(d, file=name, text=text, offsets=loc.offsets) if loc.offsets else d
                for d in e.diagnostics
            ]
            continue
        originals.append(tree)
        canonical = format_expr(tree, width=10**9 if doc.fmt == "json" else 88)
        if canonical == source.strip() or value.span is None:
            continue
        new = _render(canonical, value, key, text, doc.fmt)
        edits.append((value.span.start, value.span.end, new))
    if problems:
        raise SchemaError(problems)
    out = text
    for start, end, new in sorted(edits, reverse=True):
        out = out[:start] + new + out[end:]
    if out != text:
        _verify(out, originals, name, doc.fmt)
    return out


def _render(canonical: str, value: Node, key: Node, text: str, fmt: Format) -> str:
    assert value.span is not None and key.span is not None
    multi = "\n" in canonical
    if fmt == "json":
        return json.dumps(canonical, ensure_ascii=False)
    if fmt == "toml":
        if multi:
            body = canonical.replace("\\", "\\\\").replace('"""', '""\\"')
            return '"""\n' + body + '"""'
        return json.dumps(canonical, ensure_ascii=False)
    # YAML
    first = text[value.span.start]
    indent = " " * (key.span.column - 1 + 2)
    if multi or first in "|>":
        return "|\n" + "\n".join(indent + line for line in canonical.split("\n"))
    if first == '"':
        return json.dumps(canonical, ensure_ascii=False)
    if first != "'" and _plain_ok(canonical):
        return canonical
    return "'" + canonical.replace("'", "''") + "'"


def _plain_ok(s: str) -> bool:
    import yaml

    try:
        return bool(yaml.safe_load("k: " + s) == {"k": s})
    except yaml.YAMLError:
        return False


def _verify(out: str, originals: Sequence[object], name: str, fmt: Format) -> None:
    doc = load_document(out, fmt=fmt, name=name) if fmt != "dict" else None
    got = []
    if doc is not None:
        for _, value in expression_nodes(doc):
            assert isinstance(value.value, str)
            got.append(parse(value.value))
    if got != originals:  # pragma: no cover - a formatter bug; never write such a file
        raise SchemaError(
            Diagnostic(
                code="internal",
                message=f"formatting {name} would change its meaning; the file was left as is",
                hints=("please report this as a segql bug",),
            )
        )
