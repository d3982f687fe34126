"""`segql fmt`: rewrite the expressions inside schema and catalog files in canonical form.

Only the text of each expression value changes; comments, key order, other keys, line
endings (LF or CRLF), a byte order mark and the rest of the layout stay byte for byte.
Expressions that hold `#` comments are left as written (the formatter would drop the
comments), with a note; so is a YAML anchored value that is also used outside an
expression. An anchored expression used by several aliases is formatted once, where the
anchor is. Every rewrite is verified by loading the result and comparing it, expression by
parsed expression and value by value, with the original, so a bug can never corrupt a
file; files are replaced atomically (:func:`write_formatted`).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from segql.config.document import format_of, parse_text, read_text
from segql.config.nodes import Format, Node
from segql.core.diagnostics import Diagnostic, SchemaError, SegqlError, Severity, relocate, span_at
from segql.core.fsutil import write_atomic
from segql.lang.formatter import format_expr
from segql.lang.parser import parse

__all__ = [
    "Formatted",
    "expression_nodes",
    "format_file",
    "format_path",
    "format_source",
    "format_text",
    "write_formatted",
]

WIDTH = 88  # longer expressions become block strings, one `and`/`or` term per line


@dataclass(frozen=True, slots=True, kw_only=True)
class Formatted:
    """One file's text before and after formatting; ``notes`` name the expressions left as
    written, and why (severity ``note``, code ``fmt-kept``)."""

    old: str
    new: str
    notes: tuple[Diagnostic, ...] = ()

    @property
    def changed(self) -> bool:
        return self.new != self.old


@dataclass(frozen=True, slots=True, kw_only=True)
class _Site:
    """An expression in a document: where it hangs (``parent[key]``) and what it is."""

    label: str  # `segments.vip.where`
    parent: Node
    key: Node
    value: Node


def _sites(doc: Node) -> Iterator[_Site]:
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
                    yield _Site(
                        label=f"{section}.{key.value}.{field}",
                        parent=value,
                        key=hit[0],
                        value=hit[1],
                    )
            elif section != "events" and isinstance(value.value, str):
                yield _Site(label=f"{section}.{key.value}", parent=group, key=key, value=value)


def expression_nodes(doc: Node) -> Iterator[tuple[Node, Node]]:
    """(key node, value node) of every segql expression in a schema or catalog document:
    ``segments.*.where`` (or a segment given as plain text), ``traits.*`` (or
    ``traits.*.expr``) and ``events.*.where``."""
    for site in _sites(doc):
        yield site.key, site.value


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def format_path(path: Path) -> Formatted:
    """Format a file (format from its suffix). Raises SchemaError (``config-io`` for an
    unreadable or non-UTF-8 file, the file's syntax errors, the expressions' errors)."""
    fmt = format_of(path)
    if fmt is None:
        raise SchemaError(
            Diagnostic(
                code="config-io",
                message=f"cannot tell the format of `{path}` from its suffix",
                hints=("use a .yaml, .yml, .toml or .json file",),
                file=str(path),
            )
        )
    return format_source(read_text(path), name=str(path), fmt=fmt)


def format_file(path: Path) -> tuple[str, str]:
    """(new text, old text) of a file."""
    result = format_path(path)
    return result.new, result.old


def write_formatted(path: Path, result: Formatted) -> None:
    """Replace ``path`` with ``result.new`` atomically (a temporary file renamed over it,
    keeping the file's permission bits; a symlink keeps pointing at the formatted file).
    Refuses, leaving the file alone, when it no longer holds ``result.old``."""
    target = path.resolve()
    try:
        current = target.read_bytes()
    except OSError as e:
        raise _io_error(f"cannot read {path}: {e.strerror or e}", path) from None
    if current != result.old.encode("utf-8"):
        raise _io_error(
            f"{path} changed while it was being formatted; it was left as it is",
            path,
            "run segql fmt again",
        )
    try:
        write_atomic(target, result.new)
    except OSError as e:
        raise _io_error(
            f"cannot write {path}: {e.strerror or e}", path, "the file was left as it was"
        ) from None


def _io_error(message: str, path: Path, *hints: str) -> SchemaError:
    return SchemaError(Diagnostic(code="config-io", message=message, hints=hints, file=str(path)))


# ---------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------


def format_text(
    text: str, *, name: str, path: Path | None = None, fmt: Format | None = None
) -> str:
    """The formatted text (format from ``fmt``, else ``path``'s suffix, else sniffed)."""
    if fmt is None and path is not None:
        fmt = format_of(path)
    return format_source(text, name=name, fmt=fmt).new


def format_source(text: str, *, name: str, fmt: Format | None = None) -> Formatted:
    """Format document text. Raises SchemaError for a malformed document or expression."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    doc = parse_text(text, fmt=fmt, name=name)  # drops the BOM, as `body` does
    kind = doc.fmt
    norm = doc.text if doc.text is not None else body  # what document spans measure
    shared = _shared_outside_expressions(doc)
    edits: list[tuple[int, int, str]] = []
    problems: list[Diagnostic] = []
    notes: list[Diagnostic] = []
    done: set[int] = set()
    for site in _sites(doc):
        value = site.value
        if id(value) in done:  # a YAML alias of an expression already seen
            continue
        done.add(id(value))
        source = value.value
        assert isinstance(source, str)
        try:
            tree = parse(source)
        except SegqlError as e:
            loc = value.located()
            problems += [
                relocate(d, file=name, text=norm, offsets=loc.offsets) if loc.offsets else d
                for d in e.diagnostics
            ]
            continue
        if value.span is None:  # no position to edit (a TOML layout the scanner missed)
            continue
        single = kind == "json" or value.flow
        canonical = format_expr(tree, width=10**9 if single else WIDTH)
        bare = _without_comments(source)
        if canonical == source.strip() or canonical == bare:
            continue
        why = None
        if bare is not None:
            why = "it has # comments, which formatting would drop"
        elif id(value) in shared:
            why = "its YAML anchor is also used outside an expression"
        if why is not None:
            notes.append(_note(f"`{site.label}` is left as written: {why}", value, name, norm))
            continue
        edits.append(_render(canonical, site, norm, kind))
    if problems:
        raise SchemaError(problems)
    if edits and not _verified(doc, _apply(norm, edits), kind, name):
        # A layout the renderer does not handle: keep the edits that are safe on their own.
        safe = [e for e in edits if _verified(doc, _apply(norm, [e]), kind, name)]
        for start, _, _ in edits:
            if all(start != s for s, _, _ in safe):
                site = next(x for x in _sites(doc) if x.value.span and x.value.span.start == start)
                why = "segql fmt cannot rewrite it safely in this layout"
                notes.append(
                    _note(f"`{site.label}` is left as written: {why}", site.value, name, norm)
                )
        edits = safe
        if edits and not _verified(doc, _apply(norm, edits), kind, name):
            _meaning_changed(name)  # pragma: no cover - safe edits that clash
    if not edits:
        return Formatted(old=text, new=text, notes=tuple(notes))
    notes.sort(key=lambda d: d.span.start)
    return Formatted(old=text, new=bom + _restore_endings(body, edits), notes=tuple(notes))


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _note(message: str, value: Node, name: str, text: str) -> Diagnostic:
    span = value.span if value.span is not None else span_at(text, 0)
    return Diagnostic(
        code="fmt-kept",
        message=message,
        severity=Severity.NOTE,
        span=span,
        file=name,
        source=text,
    )


def _without_comments(source: str) -> str | None:
    """The expression without its `#` comments and trailing spaces, or None when it has
    no comments (a `#` inside a string or a backticked name is not a comment)."""
    from segql.lang.parser import lex

    parts: list[str] = []
    pos = 0
    found = False
    for tok in [*lex(source), None]:
        end = len(source) if tok is None else tok.start_pos
        gap = source[pos:end]
        if "#" in gap:
            found = True
            gap = re.sub(r"#[^\n]*", "", gap)
        parts.append(gap)
        if tok is not None:
            parts.append(source[tok.start_pos : tok.end_pos])
            pos = tok.end_pos
    if not found:
        return None
    return "\n".join(line.rstrip() for line in "".join(parts).split("\n")).strip()


def _shared_outside_expressions(doc: Node) -> set[int]:
    """Ids of expression values that a YAML alias also places somewhere else."""
    sites = {(id(s.parent), id(s.key)) for s in _sites(doc)}
    values = {id(s.value) for s in _sites(doc)}
    out: set[int] = set()
    seen: set[int] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for k, v in node.entries:
            if id(v) in values and (id(node), id(k)) not in sites:
                out.add(id(v))
            stack.append(v)
        for item in node.items:
            if id(item) in values:
                out.add(id(item))
            stack.append(item)
    return out


def _restore_endings(body: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply edits measured in the normalized text (CRLF read as LF) to the original
    ``body``: offsets move past the removed `\\r`s, and line breaks in new text take the
    ending of the line they are on (`\\r\\n`, `\\n`, or a lone `\\r` in YAML)."""
    crs = [m.start() - i for i, m in enumerate(re.finditer("\r\n", body))]
    out = body
    for start, end, new in sorted(edits, reverse=True):
        a = start + bisect.bisect_left(crs, start)
        b = end + bisect.bisect_left(crs, end)
        m = _BREAK.search(out, b)
        ending = m.group() if m is not None else ("\r\n" if "\r\n" in body else "\n")
        out = out[:a] + new.replace("\n", ending) + out[b:]
    return out


_BREAK = re.compile("\r\n|\r|\n")


# ---------------------------------------------------------------------------------------
# Rendering one expression in its file's syntax
# ---------------------------------------------------------------------------------------


def _render(canonical: str, site: _Site, text: str, fmt: Format) -> tuple[int, int, str]:
    """(start, end, replacement) in ``text`` for one expression value."""
    value, key = site.value, site.key
    assert value.span is not None and key.span is not None
    start, end = value.span.start, value.span.end
    multi = "\n" in canonical
    if fmt == "json":
        return start, end, json.dumps(canonical, ensure_ascii=False)
    if fmt == "toml":
        if multi and not _toml_unsafe(canonical, multiline=True):
            body = canonical.replace("\\", "\\\\").replace('"""', '""\\"')
            return start, end, '"""\n' + body + '"""'
        return start, end, _toml_basic(canonical)
    # YAML
    first = text[start]
    if value.flow:  # inside `{…}` or `[…]`: one line, no block strings
        if first != "'" and first != '"' and _plain_ok(canonical, flow=True):
            return start, end, canonical
        return start, end, _yaml_double(canonical)
    printable = _YAML_UNPRINTABLE.search(canonical) is None
    if (multi or first in "|>") and printable:
        indent = " " * (key.span.column - 1 + 2)
        # A comment after a plain or quoted value moves onto the `|` line, outside the text.
        line_end = text.find("\n", end)
        rest = text[end : len(text) if line_end < 0 else line_end]
        header = "|"
        if first not in "|>" and re.fullmatch(r"[ \t]+#.*", rest):
            header += rest
            end += len(rest)
        return start, end, header + "\n" + "\n".join(indent + ln for ln in canonical.split("\n"))
    if first == '"' or not printable:
        return start, end, _yaml_double(canonical)
    if first != "'" and _plain_ok(canonical, flow=False):
        return start, end, canonical
    return start, end, "'" + canonical.replace("'", "''") + "'"


# Characters YAML does not allow unescaped (outside its printable set).
_YAML_UNPRINTABLE = re.compile("[^\t\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _double_quoted(s: str, unsafe: Callable[[str], bool]) -> str:
    """``s`` as a double-quoted YAML or TOML string (both read the same escapes)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif unsafe(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _yaml_double(s: str) -> str:
    return _double_quoted(s, lambda ch: _YAML_UNPRINTABLE.match(ch) is not None)


def _toml_unsafe(s: str, *, multiline: bool) -> bool:
    allowed = "\t\n" if multiline else "\t"
    return any((ord(c) < 0x20 and c not in allowed) or c == "\x7f" for c in s)


def _toml_basic(s: str) -> str:
    return _double_quoted(s, lambda ch: ord(ch) < 0x20 or ch == "\x7f")


def _plain_ok(s: str, *, flow: bool) -> bool:
    """Whether ``s`` written as a YAML plain scalar reads back as exactly ``s``."""
    import yaml

    if not s or s != s.strip() or _YAML_UNPRINTABLE.search(s):
        return False
    doc = "{k: " + s + "}" if flow else "k: " + s
    try:
        return bool(yaml.safe_load(doc) == {"k": s})
    except yaml.YAMLError:
        return False


# ---------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------


def _verified(before: Node, out: str, fmt: Format, name: str) -> bool:
    """Whether the formatted text holds the same values and, in place of each expression,
    one that parses to the same tree."""
    try:
        after = parse_text(out, fmt=fmt, name=name)
    except SegqlError:
        return False
    exprs_before = {id(v) for _, v in expression_nodes(before)}
    exprs_after = {id(v) for _, v in expression_nodes(after)}
    seen: set[tuple[int, int]] = set()

    def same(a: Node, b: Node) -> bool:
        if (id(a), id(b)) in seen:
            return True
        seen.add((id(a), id(b)))
        if a.kind != b.kind or len(a.entries) != len(b.entries) or len(a.items) != len(b.items):
            return False
        if (id(a) in exprs_before) != (id(b) in exprs_after):
            return False
        if id(a) in exprs_before:
            return bool(parse(str(a.value)) == parse(str(b.value)))
        if a.is_scalar:
            nan = a.value != a.value and b.value != b.value  # only NaN differs from itself
            return type(a.value) is type(b.value) and (nan or bool(a.value == b.value))
        for (ka, va), (kb, vb) in zip(a.entries, b.entries, strict=True):
            if ka.value != kb.value or not same(va, vb):
                return False
        return all(same(x, y) for x, y in zip(a.items, b.items, strict=True))

    try:
        return same(before, after)
    except (SegqlError, RecursionError):
        return False


def _meaning_changed(name: str) -> None:  # pragma: no cover - a formatter bug
    raise SchemaError(
        Diagnostic(
            code="internal",
            message=f"formatting {name} would change its meaning; the file was left as is",
            hints=("please report this as a segql bug",),
            file=name,
        )
    )
