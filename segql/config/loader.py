"""Schema files (CONTRACT §2) and segment catalogs (§4.1): load, validate, build.

:func:`load_schema` is the public entry point. Structure is validated here, every problem
collected as a :class:`Diagnostic` pointing at the file, line and column of the entry;
expressions (traits, stream filters, segments) are then type-checked by
:func:`segql.checker.check_schema`, whose diagnostics land at their exact place in the file
through :attr:`Located.offsets`. The format reference is ``docs/schema.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from segql.config.definitions import SchemaBuilder
from segql.config.document import load_document, looks_like_path
from segql.config.nodes import Format, Node
from segql.config.reading import place
from segql.core.diagnostics import NO_SPAN, Diagnostic, SchemaError, Severity
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import (
    ExperimentDef,
    Located,
    Schema,
    SegmentationDef,
    SegmentDef,
)
from segql.ir.definitions import definitions

__all__ = [
    "SchemaSource",
    "build_schema",
    "load_catalog",
    "load_schema",
]

SchemaSource = str | Path | Mapping[Any, Any]


def _base_dir(path: Path | None) -> Path:
    return path.resolve().parent if path is not None else Path.cwd()


def _path_of(source: object) -> Path | None:
    """The file a source names, if it is one (as :func:`load_document` decides)."""
    if isinstance(source, Path):
        return source
    if isinstance(source, str) and looks_like_path(source):
        return Path(source)
    return None


def build_schema(doc: Node, *, path: str | Path | None = None) -> tuple[Schema, list[Diagnostic]]:
    """Validate a loaded document's structure and build a :class:`Schema` (unchecked).

    ``path`` is the schema file; relative ``file:`` sources resolve against its directory
    (the current directory without one). Returns the schema, built from whatever was valid,
    and every problem found."""
    p = Path(path) if path is not None else None
    builder = SchemaBuilder(doc, _base_dir(p))
    schema = builder.schema(p.resolve() if p is not None else None)
    return schema, builder.diags


def _catalog(
    source: SchemaSource, *, fmt: Format | None = None, name: str | None = None
) -> tuple[
    dict[str, SegmentDef],
    dict[str, Located],
    list[Diagnostic],
    list[SegmentationDef],
    list[ExperimentDef],
]:
    try:
        doc = load_document(source, fmt=fmt, name=name)
    except SchemaError as e:
        return {}, {}, list(e.diagnostics), [], []
    builder = SchemaBuilder(doc, _base_dir(_path_of(source)))
    segments = builder.catalog()
    return (
        segments,
        builder.segment_keys,
        builder.diags,
        list(builder.segmentations.values()),
        list(builder.experiments.values()),
    )


def load_catalog(
    source: SchemaSource, *, fmt: Format | None = None, name: str | None = None
) -> tuple[dict[str, SegmentDef], list[Diagnostic]]:
    """Read a segment catalog (a path, document text or a dict with ``segments:``).
    ``fmt`` and ``name`` are as for :func:`load_document`. An empty document is an empty
    catalog.

    Never raises for bad input: unreadable or malformed files come back as diagnostics."""
    segments, _, diags, _, _ = _catalog(source, fmt=fmt, name=name)
    return segments, diags


def load_schema(
    source: SchemaSource,
    *,
    catalogs: Iterable[SchemaSource] = (),
    strict: bool = True,
    limits: Limits | None = None,
) -> Schema:
    """Load, validate and type-check a schema and its segment catalogs.

    ``source`` is a path (format from the suffix), document text or a dict. Raises
    :class:`SchemaError` with every error found; warnings are kept on ``schema.warnings``.
    Expressions are checked only once the structure is valid, so that one mistake does
    not echo through every expression that uses it. ``limits`` apply to every trait,
    stream filter and segment (a definition beyond them is a ``limit-exceeded`` error
    where it is defined).

    ``strict=False`` tolerates broken segments: each is skipped with a warning and its
    errors kept on ``schema.broken`` (a command that uses it still fails); everything
    else must be valid."""
    doc = load_document(source)
    path = _path_of(source)
    builder = SchemaBuilder(doc, _base_dir(path))
    schema = builder.schema(path.resolve() if path is not None else None)
    diags = builder.diags
    structural = len(diags)
    places = dict(builder.segment_keys)
    for cat in catalogs:
        segments, keys, cdiags, classes, experiments = _catalog(cat)
        diags.extend(cdiags)
        for sg in classes:
            _add_named(schema.segmentations, sg, "segmentation", diags)
        for ex in experiments:
            _add_named(schema.experiments, ex, "experiment", diags)
        for name, seg in segments.items():
            if name in schema.segments:
                loc = keys.get(name, Located())
                first = place(places.get(name, Located()))
                diags.append(
                    Diagnostic(
                        code="schema-duplicate-name",
                        message=f"segment `{name}` is defined twice",
                        span=loc.span or NO_SPAN,
                        hints=(f"it is first defined at {first}",) if first else (),
                        file=loc.file,
                        source=loc.text,
                    )
                )
                continue
            schema.segments[name] = seg
            places[name] = keys.get(name, Located())
    taken = [
        ("profile field", "fields", schema.entity.fields),
        ("event stream", "streams", schema.streams),
        ("trait", "traits", schema.traits),
    ]
    for sg in list(schema.segmentations.values()):
        _name_free(schema.segmentations, sg, "segmentation", taken, diags)
    taken.append(("segmentation", "segmentations", schema.segmentations))
    for ex in list(schema.experiments.values()):
        _name_free(schema.experiments, ex, "experiment", taken, diags)
    # A broken schema structure would echo through every expression, so stop there; a
    # broken or duplicate catalog entry only hides itself: check everything else.
    if any(d.is_error for d in builder.diags[:structural]):
        raise SchemaError([d for d in diags if d.is_error])
    from segql.checker import check_schema

    diags.extend(check_schema(schema, limits=limits or DEFAULT_LIMITS))
    errors = [d for d in diags if d.is_error]
    if errors and not strict:
        diags = _skip_broken_segments(schema, diags)
        errors = [d for d in diags if d.is_error]
    if errors:
        raise SchemaError(errors)
    schema.warnings = [d for d in diags if not d.is_error]
    return schema


Named = SegmentationDef | ExperimentDef


def _add_named(table: dict[str, Any], item: Named, kind: str, diags: list[Diagnostic]) -> None:
    """Add a segmentation or experiment from a catalog; a second one of a name is an
    error at it, naming the first."""
    first = table.get(item.name)
    if first is None:
        table[item.name] = item
        return
    at = place(first.where)
    diags.append(
        Diagnostic(
            code="schema-duplicate-name",
            message=f"{kind} `{item.name}` is defined twice",
            span=item.where.span or NO_SPAN,
            hints=(f"it is first defined at {at}",) if at else (),
            file=item.where.file,
            source=item.where.text,
        )
    )


def _name_free(
    table: dict[str, Any],
    item: Named,
    kind: str,
    taken: list[tuple[str, str, Any]],
    diags: list[Diagnostic],
) -> None:
    """A segmentation or experiment is read by its bare name, like fields, streams and
    traits: one whose name is ``taken`` (kind, plural, names) is dropped with an error."""
    other = next((k for k, _, names in taken if item.name in names), None)
    if other is None:
        return
    del table[item.name]
    shared = ", ".join(p for _, p, _ in taken[:-1]) + f" and {taken[-1][1]}"
    diags.append(
        Diagnostic(
            code="schema-duplicate-name",
            message=f"{kind} `{item.name}` has the same name as {other} `{item.name}`",
            span=item.where.span or NO_SPAN,
            hints=(f"{kind}s share one namespace with {shared}",),
            file=item.where.file,
            source=item.where.text,
        )
    )


def _skip_broken_segments(schema: Schema, diags: list[Diagnostic]) -> list[Diagnostic]:
    """When every error lies inside a segment's definition, keep those errors on
    ``schema.broken`` and warn once per skipped segment; else change nothing."""
    broken = [n for n in schema.segments if n not in definitions(schema).segments]
    owned: dict[str, list[Diagnostic]] = {n: [] for n in broken}
    for d in diags:
        if not d.is_error:
            continue
        owner = next((n for n in broken if _inside(d, schema.segments[n].where)), None)
        if owner is None:
            return diags
        owned[owner].append(d)
    out = [d for d in diags if not d.is_error]
    for name in broken:
        seg = schema.segments[name]
        errors = owned[name] or [
            Diagnostic(code="broken-segment", message=f"segment `{name}` has errors")
        ]
        schema.broken[name] = tuple(errors)
        where = seg.where
        out.append(
            Diagnostic(
                code="broken-segment",
                message=f"segment `{name}` has errors and was skipped",
                severity=Severity.WARNING,
                span=where.span or NO_SPAN,
                hints=("`segql check` shows them; commands that use it fail",),
                file=where.file,
                source=where.text,
            )
        )
    return out


def _inside(d: Diagnostic, where: Located) -> bool:
    if where.span is None or d.file != where.file:
        return False
    return where.span.start <= d.span.start <= where.span.end
