"""The schema loader's vocabulary: key lists, did-you-mean, and :class:`Reader`, the
walker that reads scalars and mappings of a document and reports problems at their place."""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from segql.config.nodes import Node
from segql.core.diagnostics import NO_SPAN, Diagnostic, Severity, Span
from segql.core.schema import (
    ExperimentDef,
    Located,
    SegmentationDef,
)
from segql.core.types import COLUMN_TYPES

TOP_KEYS = (
    "timezone",
    "entity",
    "events",
    "traits",
    "segments",
    "segmentations",
    "experiments",
    "channels",
)
CATALOG_KEYS = ("segments", "segmentations", "experiments")
ENTITY_KEYS = ("table", "file", "key", "fields")
STREAM_KEYS = ("table", "file", "key", "time", "where", "fields", "description")
FIELD_KEYS = ("type", "column", "values", "description")
TRAIT_KEYS = ("expr", "description")
SEGMENT_KEYS = ("where", "description", "tags")
SEGMENTATION_KEYS = ("classes", "otherwise", "description")
FILE_SUFFIXES = (".csv", ".parquet")
TYPE_NAMES = tuple(t.value for t in COLUMN_TYPES)

TOP_HINTS = {
    k: f"`{k}` belongs under `entity:` (or under a stream in `events:`)"
    for k in ("table", "file", "key", "fields")
}
TRAIT_HINTS = {"where": "a trait's expression goes under `expr:`"}
SEGMENT_HINTS = {
    k: "a segment's condition goes under `where:`" for k in ("expr", "condition", "query")
}


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def suggest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    cands = list(candidates)
    exact = [c for c in cands if c.lower() == word.lower() and c != word]
    if exact:
        return exact[:1]
    lowered = {c.lower(): c for c in cands}
    return [lowered[h] for h in difflib.get_close_matches(word.lower(), lowered, n=n, cutoff=0.6)]


def did_you_mean(hits: Sequence[str]) -> tuple[str, ...]:
    if not hits:
        return ()
    return ("did you mean " + " or ".join(f"`{h}`" for h in hits) + "?",)


def place(loc: Located) -> str | None:
    """``file:line`` of a location, when it has one."""
    if loc.span is None:
        return None
    return f"{loc.file or '<string>'}:{loc.span.line}"


def is_empty(node: Node) -> bool:
    """An optional section written with no value (``segments:``, ``segments: ~``, JSON
    ``null``): the same as an empty mapping."""
    return node.is_scalar and node.value is None


class Reader:
    """Walks a document, collecting diagnostics; the reading and reporting every part of a
    schema shares (the parts are built by the subclasses in sources.py and definitions.py)."""

    def __init__(self, doc: Node, base: Path) -> None:
        self.doc = doc
        self.base = base
        self.diags: list[Diagnostic] = []
        self.segment_keys: dict[str, Located] = {}
        self.segmentations: dict[str, SegmentationDef] = {}
        self.experiments: dict[str, ExperimentDef] = {}

    # -- reporting ---------------------------------------------------------------------

    def report(
        self,
        code: str,
        message: str,
        node: Node | Located | None,
        *hints: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        span: Span = node.span if node is not None and node.span is not None else NO_SPAN
        self.diags.append(
            Diagnostic(
                code=code,
                message=message,
                severity=severity,
                span=span,
                hints=tuple(h for h in hints if h),
                file=self.doc.file,
                source=self.doc.text,
            )
        )

    def check_keys(
        self,
        node: Node,
        allowed: Sequence[str],
        owner: str,
        special: Mapping[str, str] | None = None,
    ) -> None:
        for k, _ in node.entries:
            name = str(k.value)
            if name in allowed:
                continue
            hints = [special[name]] if special and name in special else []
            hints = hints or list(did_you_mean(suggest(name, allowed)))
            hints = hints or ["expected " + ", ".join(f"`{a}`" for a in allowed)]
            self.report("schema-unknown-key", f"unknown key `{name}` in {owner}", k, *hints)

    def mapping(self, node: Node, message: str, *hints: str) -> bool:
        if node.is_map:
            return True
        self.report("schema-bad-value", message, node, *hints)
        return False

    def string(self, node: Node, what: str, *, empty_ok: bool = False) -> str | None:
        """A text value; non-text and (unless ``empty_ok``) blank values are reported."""
        s = node.string()
        if s is None:
            if node.is_scalar and node.value is None:
                self.report("schema-bad-value", f"{what} is empty", node)
            else:
                self.report("schema-bad-value", f"{what} must be text", node)
            return None
        if not empty_ok and not s.strip():
            self.report("schema-bad-value", f"{what} is empty", node)
            return None
        return s

    def name_ok(self, key: Node, kind: str) -> bool:
        name = str(key.value)
        if not name.strip():
            self.report("schema-bad-name", f"a {kind} name cannot be empty", key)
            return False
        if not name.isprintable():
            self.report(
                "schema-bad-name",
                f"{kind} name {name!r} contains a line break or control character",
                key,
                "names may contain any other character; write unusual ones in backticks",
            )
            return False
        return True

    # -- parts -------------------------------------------------------------------------

    def timezone(self, node: Node) -> str:
        name = self.string(node, "`timezone`")
        if name is None:
            return "UTC"
        if name.upper() == "UTC":
            return "UTC"
        zones = known_zones()
        if name in zones:
            return name
        hits = suggest(name, zones)
        if not hits:
            hits = sorted(z for z in zones if z.lower().endswith("/" + name.lower()))[:2]
        self.report(
            "schema-bad-timezone",
            f"unknown timezone `{name}`",
            node,
            *(
                did_you_mean(hits)
                or ("use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`",)
            ),
        )
        return "UTC"
