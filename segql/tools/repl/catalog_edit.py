"""`:save` in the REPL: append a segment to a YAML catalog file, keeping the rest of the
file byte for byte, and refusing any edit that would not load back exactly."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segql.core.diagnostics import Diagnostic, SegqlError

if TYPE_CHECKING:
    pass


# ---------------------------------------------------------------------------------------
# :save — append a segment to a YAML catalog, leaving the rest of the file as it was
# ---------------------------------------------------------------------------------------


class SaveError(Exception):
    """A segment could not be appended; the message says why (the file is unchanged)."""


def catalogs_to_load(catalogs: Sequence[Path]) -> list[Path]:
    """The catalogs to load for a REPL session: all of them, except a last one (the file
    ``:save`` writes to) that does not exist yet — the first ``:save`` creates it."""
    out = list(catalogs)
    if out and not out[-1].exists():
        out.pop()
    return out


def append_segment(path: Path, name: str, text: str, *, description: str | None = None) -> None:
    """Append segment ``name`` (expression ``text``) under ``segments:`` of a YAML file.

    The new entry goes right after the last entry of the ``segments:`` mapping, with the
    file's own indentation and line endings; everything else (comments, order, other
    sections, a byte order mark) stays byte for byte. A missing file is created; a file
    without ``segments:`` gets the section at its end; an empty section (``segments:``,
    ``segments: {}``, ``segments: ~``) gets its first entry. The new text is read back with
    :func:`segql.config.load_catalog` before it is written; only if it comes back exactly
    as intended is it written, atomically (the file keeps its mode). Otherwise, or when
    the file cannot be edited safely, SaveError says why and the file is unchanged."""
    import yaml

    from segql.config.document import read_text
    from segql.config.editing import _restore_endings
    from segql.config.loader import load_catalog
    from segql.core.fsutil import write_atomic
    from segql.core.schema import SegmentDef

    if path.suffix.lower() not in (".yaml", ".yml"):
        raise SaveError(f"{path}: :save writes YAML catalogs only (.yaml or .yml)")
    try:
        original = read_text(path) if path.exists() else ""
    except SegqlError as e:
        raise SaveError(e.diagnostic.message) from None
    bom = "\ufeff" if original.startswith("\ufeff") else ""
    body = original[len(bom) :]
    norm = body.replace("\r\n", "\n")
    if "\r" in norm:
        raise SaveError(f"{path}: the file has lone CR line endings; add the segment by hand")
    before: dict[str, SegmentDef] = {}
    before_diags: list[Diagnostic] = []
    if original:
        before, before_diags = load_catalog(norm, fmt="yaml", name=str(path))
    if name in before:
        raise SaveError(f"segment `{name}` already exists in {path}")
    try:
        root = yaml.compose(norm, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise SaveError(f"cannot read {path} as YAML: {e}") from None

    edits: list[tuple[int, int, str]] = []  # in `norm`
    step = 2
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        at, indent, header = len(norm), step, "segments:\n"
    elif not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise SaveError(f"{path}: the top level is not a block mapping; add the segment by hand")
    else:
        segs = next(
            (
                (k, v)
                for k, v in root.value
                if isinstance(k, yaml.ScalarNode) and k.value == "segments"
            ),
            None,
        )
        if segs is None:
            at, indent, header = len(norm), step, "segments:\n"
        else:
            key, value = segs
            header = ""
            empty_null = isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null")
            empty_flow = (
                isinstance(value, yaml.MappingNode) and value.flow_style and not value.value
            )
            if empty_null or empty_flow:
                if value.start_mark.index != value.end_mark.index:  # `~`, `null`, `{}`
                    edits.append(_drop_value(norm, value.start_mark.index, value.end_mark.index))
                at = _line_end(norm, key.end_mark.index)
                indent = key.start_mark.column + step
            elif isinstance(value, yaml.MappingNode) and not value.flow_style:
                indent = value.value[0][0].start_mark.column
                for _, entry in value.value:  # the file's own step, from a block entry
                    if isinstance(entry, yaml.MappingNode) and entry.value and not entry.flow_style:
                        step = max(1, entry.value[0][0].start_mark.column - indent)
                        break
                last = max(_last_index(n) for pair in value.value for n in pair)
                end = last
                while end > 0 and norm[end - 1] in " \t\n":
                    end -= 1
                at = _line_end(norm, end)
            else:
                raise SaveError(
                    f"{path}: `segments:` is not a block mapping (flow style `{{…}}`?); "
                    "add the segment by hand"
                )
    pad, pad2 = " " * indent, " " * (indent + step)
    lines = [f"{pad}{name}:"]
    if description:
        lines.append(f"{pad2}description: {json.dumps(description, ensure_ascii=False)}")
    if "\n" not in text and _plain_yaml_ok(text):
        lines.append(f"{pad2}where: {text}")
    else:
        lines.append(f"{pad2}where: |")
        lines += [f"{pad2}{' ' * step}{ln}" if ln.strip() else "" for ln in text.split("\n")]
    entry = header + "\n".join(lines) + "\n"
    if at == len(norm) and norm and not norm.endswith("\n"):
        entry = "\n" + entry
    edits.append((at, at, entry))
    new_norm = norm
    for a, b, t in sorted(edits, reverse=True):
        new_norm = new_norm[:a] + t + new_norm[b:]
    after, after_diags = load_catalog(new_norm, fmt="yaml", name=str(path))
    got = after.get(name)
    ok = (
        got is not None
        and got.text.strip() == text.strip()
        and (got.description or None) == description
        and set(after) == set(before) | {name}
        and all(after[n].text == before[n].text for n in before)
        and _errors(after_diags) <= _errors(before_diags)
    )
    if not ok:
        raise SaveError(
            f"could not append to {path} safely; add this by hand:\n" + "\n".join(lines)
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, bom + _restore_endings(body, edits))
    except OSError as e:
        raise SaveError(f"cannot write {path}: {e.strerror or e}") from None


def _drop_value(text: str, start: int, end: int) -> tuple[int, int, str]:
    """An edit removing an empty value (`{}`, `~`) and the blanks before it."""
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    line_end = text.find("\n", end)
    rest = text[end : len(text) if line_end < 0 else line_end]
    if not rest.strip():
        end += len(rest)
    return start, end, ""


def _errors(diags: Iterable[Diagnostic]) -> set[tuple[str, str]]:
    return {(d.code, d.message) for d in diags if d.is_error}


def _line_end(text: str, index: int) -> int:
    """The index just after the line break ending the line that holds ``index``."""
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _last_index(node: Any) -> int:
    """The end offset of the last character of a YAML node (recursively)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        return max([node.start_mark.index, *(_last_index(n) for p in node.value for n in p)])
    if isinstance(node, yaml.SequenceNode):
        if node.flow_style:
            return int(node.end_mark.index)
        return max([node.start_mark.index, *(_last_index(n) for n in node.value)])
    return int(node.end_mark.index)


def _plain_yaml_ok(text: str) -> bool:
    """Whether ``where: TEXT`` reads back as exactly TEXT in YAML."""
    import yaml

    if not text or text != text.strip() or text[0] in "'\"[]{}&*!|>%@`#,?:-":
        return False
    try:
        return bool(yaml.safe_load(f"k: {text}\n") == {"k": text})
    except yaml.YAMLError:
        return False
