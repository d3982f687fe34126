"""Schema files (CONTRACT §2) and segment catalogs (§4.1): load, validate, build.

:func:`load_schema` is the public entry point. Structure is validated here, every problem
collected as a :class:`Diagnostic` pointing at the file, line and column of the entry;
expressions (traits, stream filters, segments) are then type-checked by
:func:`segql.checker.check_schema`, whose diagnostics land at their exact place in the file
through :attr:`Located.offsets`. The format reference is ``docs/schema.md``.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from segql.config.document import load_document, looks_like_path
from segql.config.nodes import Format, Node
from segql.core.diagnostics import NO_SPAN, Diagnostic, SchemaError, Severity, Span
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import (
    Entity,
    FieldDef,
    Located,
    Schema,
    SegmentDef,
    Source,
    Stream,
    TraitDef,
)
from segql.core.types import COLUMN_TYPES, Type, parse_type, suggest_type

__all__ = [
    "Node",
    "SchemaSource",
    "build_schema",
    "load_catalog",
    "load_document",
    "load_schema",
]

SchemaSource = str | Path | Mapping[Any, Any]

TOP_KEYS = ("timezone", "entity", "events", "traits", "segments")
ENTITY_KEYS = ("table", "file", "key", "fields")
STREAM_KEYS = ("table", "file", "key", "time", "where", "fields", "description")
FIELD_KEYS = ("type", "column", "values", "description")
TRAIT_KEYS = ("expr", "description")
SEGMENT_KEYS = ("where", "description", "tags")
FILE_SUFFIXES = (".csv", ".parquet")
TYPE_NAMES = tuple(t.value for t in COLUMN_TYPES)

_TOP_HINTS = {
    k: f"`{k}` belongs under `entity:` (or under a stream in `events:`)"
    for k in ("table", "file", "key", "fields")
}
_TRAIT_HINTS = {"where": "a trait's expression goes under `expr:`"}
_SEGMENT_HINTS = {
    k: "a segment's condition goes under `where:`" for k in ("expr", "condition", "query")
}


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _suggest(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    cands = list(candidates)
    exact = [c for c in cands if c.lower() == word.lower() and c != word]
    if exact:
        return exact[:1]
    lowered = {c.lower(): c for c in cands}
    return [lowered[h] for h in difflib.get_close_matches(word.lower(), lowered, n=n, cutoff=0.6)]


def _did_you_mean(hits: Sequence[str]) -> tuple[str, ...]:
    if not hits:
        return ()
    return ("did you mean " + " or ".join(f"`{h}`" for h in hits) + "?",)


def _place(loc: Located) -> str | None:
    """``file:line`` of a location, when it has one."""
    if loc.span is None:
        return None
    return f"{loc.file or '<string>'}:{loc.span.line}"


def _empty(node: Node) -> bool:
    """An optional section written with no value (``segments:``, ``segments: ~``, JSON
    ``null``): the same as an empty mapping."""
    return node.is_scalar and node.value is None


class _Builder:
    """Walks a document, building schema objects and collecting diagnostics."""

    def __init__(self, doc: Node, base: Path) -> None:
        self.doc = doc
        self.base = base
        self.diags: list[Diagnostic] = []
        self.segment_keys: dict[str, Located] = {}

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
            hints = hints or list(_did_you_mean(_suggest(name, allowed)))
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
        zones = _zones()
        if name in zones:
            return name
        hits = _suggest(name, zones)
        if not hits:
            hits = sorted(z for z in zones if z.lower().endswith("/" + name.lower()))[:2]
        self.report(
            "schema-bad-timezone",
            f"unknown timezone `{name}`",
            node,
            *(
                _did_you_mean(hits)
                or ("use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`",)
            ),
        )
        return "UTC"

    def source(self, node: Node, owner: str, anchor: Node | None) -> Source:
        table, file = node.entry("table"), node.entry("file")
        if table is None and file is None:
            self.report(
                "schema-missing-key",
                f"{owner} needs `table:` (a table or view) or `file:` (a CSV or Parquet file)",
                anchor,
            )
            return Source()
        if table is not None and file is not None:
            second = max(table, file, key=lambda kv: kv[0].span.start if kv[0].span else 0)
            self.report(
                "schema-bad-value",
                f"{owner} has both `table:` and `file:`",
                second[0],
                "give one of them",
            )
            return Source()
        if table is not None:
            name = self.string(table[1], f"the `table` of {owner}")
            return Source(table=name) if name is not None else Source()
        assert file is not None
        text = self.string(file[1], f"the `file` of {owner}")
        if text is None:
            return Source()
        if not text.lower().endswith(FILE_SUFFIXES):
            self.report(
                "schema-bad-value",
                f"unsupported file type for {owner}: `{text}`",
                file[1],
                "segql reads `.csv` and `.parquet` files",
            )
            return Source()
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.base / path
        return Source(file=path.resolve())

    def column(self, node: Node, key: str, owner: str, anchor: Node | None, what: str) -> str:
        entry = node.entry(key)
        if entry is None:
            self.report("schema-missing-key", f"{owner} has no `{key}:` ({what})", anchor)
            return ""
        return self.string(entry[1], f"the `{key}` of {owner}") or ""

    def type_of(self, node: Node, field: str, owner: str) -> Type | None:
        text = node.string()
        if text is None:
            self.report(
                "schema-bad-type",
                f"the type of field `{field}` {owner} must be a type name such as `string`",
                node,
            )
            return None
        t = parse_type(text)
        if t is not None:
            return t
        alias = suggest_type(text)
        hits = [alias] if alias else _suggest(text, TYPE_NAMES)
        self.report(
            "schema-bad-type",
            f"unknown type `{text}` for field `{field}` {owner}",
            node,
            *(_did_you_mean(hits) or ("types: " + ", ".join(TYPE_NAMES),)),
        )
        return None

    def fields(self, node: Node, owner: str) -> dict[str, FieldDef]:
        out: dict[str, FieldDef] = {}
        if not self.mapping(
            node,
            f"the `fields` {owner} must be a mapping of field names to types",
            "for example `fields: {email: string, age: integer}`",
        ):
            return out
        for k, v in node.entries:
            if self.name_ok(k, "field"):
                fd = self.field(k, v, owner)
                if fd is not None:
                    out[fd.name] = fd
        return out

    def field(self, key: Node, node: Node, owner: str) -> FieldDef | None:
        name = str(key.value)
        where = key.located()
        if node.is_scalar and node.value is None:
            self.report("schema-bad-type", f"field `{name}` {owner} has no type", node)
            return None
        if node.is_scalar:
            short = self.type_of(node, name, owner)
            return FieldDef(name=name, type=short, column=name, where=where) if short else None
        if not node.is_map:
            self.report(
                "schema-bad-value",
                f"field `{name}` {owner} must be a type name or a mapping with `type:`",
                node if node.span is not None else key,
                "for example `age: integer` or `country: {type: string, values: [DE, FR]}`",
            )
            return None
        self.check_keys(node, FIELD_KEYS, f"field `{name}`")
        type_node = node.get("type")
        t: Type | None = None
        if type_node is None:
            self.report("schema-missing-key", f"field `{name}` {owner} has no `type:`", key)
        else:
            t = self.type_of(type_node, name, owner)
        column = name
        if (col := node.get("column")) is not None:
            column = self.string(col, f"the `column` of field `{name}`") or name
        description = self.description(node, f"field `{name}`")
        values: tuple[str, ...] | None = None
        if (vals := node.get("values")) is not None:
            values = self.values(vals, name, t)
        if t is None:
            return None
        return FieldDef(
            name=name, type=t, column=column, values=values, description=description, where=where
        )

    def values(self, node: Node, name: str, t: Type | None) -> tuple[str, ...] | None:
        if t is not None and t not in (Type.STRING, Type.LIST_STRING):
            self.report(
                "schema-bad-value",
                f"`values:` lists the known values of a string field; `{name}` is {t}",
                node,
            )
            return None
        if not node.is_list:
            self.report(
                "schema-bad-value",
                f"the `values` of field `{name}` must be a list",
                node,
                "for example `values: [DE, FR, GB]`",
            )
            return None
        out: list[str] = []
        for item in node.items:
            s = item.string()
            if s is None:
                self.report(
                    "schema-bad-value", f"each of the `values` of field `{name}` must be text", item
                )
            else:
                out.append(s)
        return tuple(out)

    def description(self, node: Node, owner: str) -> str | None:
        d = node.get("description")
        if d is None:
            return None
        return self.string(d, f"the `description` of {owner}", empty_ok=True)

    def expression(self, node: Node, what: str) -> tuple[str, Located] | None:
        text = self.string(node, what)
        if text is None:
            return None
        return text, node.located()

    # -- sections ----------------------------------------------------------------------

    def entity(self, root: Node) -> Entity:
        entry = root.entry("entity")
        if entry is None:
            self.report(
                "schema-missing-key",
                "the schema has no `entity:` section",
                root if root.span is not None else None,
                "add `entity:` with `table:` (or `file:`), `key:` and `fields:`",
            )
            return Entity(source=Source(), key="", fields={})
        key, node = entry
        if not self.mapping(
            node,
            "`entity` must be a mapping with `table:` (or `file:`), `key:` and `fields:`",
        ):
            return Entity(source=Source(), key="", fields={})
        self.check_keys(node, ENTITY_KEYS, "`entity`")
        source = self.source(node, "the entity", key)
        column = self.column(node, "key", "the entity", key, "the column of each contact's id")
        fields_node = node.get("fields")
        fields = self.fields(fields_node, "of the entity") if fields_node is not None else {}
        return Entity(source=source, key=column, fields=fields, where=key.located())

    def streams(self, node: Node) -> dict[str, Stream]:
        out: dict[str, Stream] = {}
        if _empty(node):
            return out
        if not self.mapping(node, "`events` must be a mapping of stream names to streams"):
            return out
        for k, v in node.entries:
            if self.name_ok(k, "stream"):
                stream = self.stream(k, v)
                if stream is not None:
                    out[stream.name] = stream
        return out

    def stream(self, key: Node, node: Node) -> Stream | None:
        name = str(key.value)
        owner = f"stream `{name}`"
        if not self.mapping(
            node,
            f"event {owner} must be a mapping with `table:` (or `file:`), `key:`, `time:` "
            "and `fields:`",
        ):
            return None
        self.check_keys(node, STREAM_KEYS, f"event {owner}")
        source = self.source(node, f"event {owner}", key)
        column = self.column(
            node, "key", f"event {owner}", key, "the column holding the contact's key"
        )
        time = self.column(node, "time", f"event {owner}", key, "the column of each event's time")
        fields_node = node.get("fields")
        fields = self.fields(fields_node, f"of {owner}") if fields_node is not None else {}
        if time:
            declared = fields.get(time)
            if declared is None:
                time_node = node.get("time")
                where = time_node.located() if time_node is not None else Located()
                fields[time] = FieldDef(name=time, type=Type.TIMESTAMP, column=time, where=where)
            elif not declared.type.is_temporal:
                self.report(
                    "schema-bad-type",
                    f"the time column `{time}` of {owner} must be a timestamp or a date, "
                    f"not {declared.type}",
                    declared.where if declared.where.span is not None else key,
                )
        filter_text: str | None = None
        filter_where = Located()
        if (w := node.get("where")) is not None:
            got = self.expression(w, f"the `where` filter of {owner}")
            if got is not None:
                filter_text, filter_where = got
        return Stream(
            name=name,
            source=source,
            key=column,
            time=time,
            fields=fields,
            filter_text=filter_text,
            filter_where=filter_where,
            description=self.description(node, owner),
            where=key.located(),
        )

    def traits(self, node: Node) -> dict[str, TraitDef]:
        out: dict[str, TraitDef] = {}
        if _empty(node):
            return out
        if not self.mapping(
            node,
            "`traits` must be a mapping of trait names to expressions",
            "for example `traits: {purchases: count(orders)}`",
        ):
            return out
        for k, v in node.entries:
            if not self.name_ok(k, "trait"):
                continue
            name = str(k.value)
            description: str | None = None
            expr_node: Node | None = v
            if v.is_map:
                self.check_keys(v, TRAIT_KEYS, f"trait `{name}`", _TRAIT_HINTS)
                description = self.description(v, f"trait `{name}`")
                expr_node = v.get("expr")
                if expr_node is None and v.get("where") is None:
                    self.report("schema-missing-key", f"trait `{name}` has no `expr:`", k)
            if expr_node is None:
                continue
            got = self.expression(expr_node, f"trait `{name}`")
            if got is not None:
                out[name] = TraitDef(name=name, text=got[0], description=description, where=got[1])
        return out

    def segments(self, node: Node) -> dict[str, SegmentDef]:
        out: dict[str, SegmentDef] = {}
        if _empty(node):
            return out
        if not self.mapping(
            node,
            "`segments` must be a mapping of segment names to segments",
            "for example `segments: {vip: {where: purchases >= 5}}`",
        ):
            return out
        for k, v in node.entries:
            if not self.name_ok(k, "segment"):
                continue
            seg = self.segment(k, v)
            if seg is not None:
                out[seg.name] = seg
                self.segment_keys[seg.name] = k.located()
        return out

    def segment(self, key: Node, node: Node) -> SegmentDef | None:
        name = str(key.value)
        description: str | None = None
        tags: tuple[str, ...] = ()
        where_node: Node | None = node
        if node.is_map:
            self.check_keys(node, SEGMENT_KEYS, f"segment `{name}`", _SEGMENT_HINTS)
            description = self.description(node, f"segment `{name}`")
            tags = self.tags(node.get("tags"), name)
            where_node = node.get("where")
            if where_node is None and not any(node.get(k) is not None for k in _SEGMENT_HINTS):
                self.report("schema-missing-key", f"segment `{name}` has no `where:`", key)
        if where_node is None:
            return None
        got = self.expression(where_node, f"segment `{name}`")
        if got is None:
            return None
        return SegmentDef(name=name, text=got[0], description=description, tags=tags, where=got[1])

    def tags(self, node: Node | None, name: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if not node.is_list:
            self.report(
                "schema-bad-value",
                f"the `tags` of segment `{name}` must be a list",
                node,
                "for example `tags: [loyalty, email]`",
            )
            return ()
        out = []
        for item in node.items:
            s = self.string(item, f"a tag of segment `{name}`")
            if s is not None:
                out.append(s)
        return tuple(out)

    def namespace(
        self, entity: Entity, streams: dict[str, Stream], traits: dict[str, TraitDef]
    ) -> None:
        """Fields, streams and traits share one namespace."""
        seen: dict[str, tuple[str, Located]] = {}
        defs: list[tuple[str, str, Located]] = [
            *(("field", n, f.where) for n, f in entity.fields.items()),
            *(("stream", n, s.where) for n, s in streams.items()),
        ]
        trait_keys = self.doc.get("traits")
        for n in traits:
            entry = trait_keys.entry(n) if trait_keys is not None and trait_keys.is_map else None
            defs.append(("trait", n, entry[0].located() if entry else Located()))
        for kind, name, loc in defs:
            if name not in seen:
                seen[name] = (kind, loc)
                continue
            first_kind, first_loc = seen[name]
            where = _place(first_loc)
            self.diags.append(
                Diagnostic(
                    code="schema-duplicate-name",
                    message=f"{kind} `{name}` has the same name as {first_kind} `{name}`",
                    span=loc.span or NO_SPAN,
                    hints=(
                        "fields, event streams and traits share one namespace; rename one",
                        *((f"{first_kind} `{name}` is defined at {where}",) if where else ()),
                    ),
                    file=self.doc.file,
                    source=self.doc.text,
                )
            )

    # -- documents ---------------------------------------------------------------------

    def schema(self, path: Path | None) -> Schema:
        root = self.doc
        if not root.is_map:
            self.report(
                "schema-bad-value",
                "a schema must be a mapping with `entity:` and optionally `timezone:`, "
                "`events:`, `traits:` and `segments:`",
                root,
            )
            return Schema(
                timezone="UTC",
                entity=Entity(source=Source(), key="", fields={}),
                streams={},
                path=path,
            )
        self.check_keys(root, TOP_KEYS, "the schema", _TOP_HINTS)
        tz_node = root.get("timezone")
        timezone = self.timezone(tz_node) if tz_node is not None else "UTC"
        entity = self.entity(root)
        events = root.get("events")
        streams = self.streams(events) if events is not None else {}
        traits_node = root.get("traits")
        traits = self.traits(traits_node) if traits_node is not None else {}
        segs_node = root.get("segments")
        segments = self.segments(segs_node) if segs_node is not None else {}
        self.namespace(entity, streams, traits)
        return Schema(
            timezone=timezone,
            entity=entity,
            streams=streams,
            traits=traits,
            segments=segments,
            path=path,
        )

    def catalog(self) -> dict[str, SegmentDef]:
        root = self.doc
        if not root.is_map:
            self.report(
                "schema-bad-value", "a catalog must be a mapping with a `segments:` section", root
            )
            return {}
        special = {
            k: "a catalog holds only `segments:`; this belongs in the schema file"
            for k in TOP_KEYS
            if k != "segments"
        }
        self.check_keys(root, ("segments",), "the catalog", special)
        node = root.get("segments")
        if node is None:
            if not root.entries:  # an empty file is an empty catalog, ready for :save
                return {}
            self.report(
                "schema-missing-key",
                "the catalog has no `segments:` section",
                root if root.span is not None else None,
            )
            return {}
        return self.segments(node)


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
    builder = _Builder(doc, _base_dir(p))
    schema = builder.schema(p.resolve() if p is not None else None)
    return schema, builder.diags


def _catalog(
    source: SchemaSource, *, fmt: Format | None = None, name: str | None = None
) -> tuple[dict[str, SegmentDef], dict[str, Located], list[Diagnostic]]:
    try:
        doc = load_document(source, fmt=fmt, name=name)
    except SchemaError as e:
        return {}, {}, list(e.diagnostics)
    builder = _Builder(doc, _base_dir(_path_of(source)))
    segments = builder.catalog()
    return segments, builder.segment_keys, builder.diags


def load_catalog(
    source: SchemaSource, *, fmt: Format | None = None, name: str | None = None
) -> tuple[dict[str, SegmentDef], list[Diagnostic]]:
    """Read a segment catalog (a path, document text or a dict with ``segments:``).
    ``fmt`` and ``name`` are as for :func:`load_document`. An empty document is an empty
    catalog.

    Never raises for bad input: unreadable or malformed files come back as diagnostics."""
    segments, _, diags = _catalog(source, fmt=fmt, name=name)
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
    builder = _Builder(doc, _base_dir(path))
    schema = builder.schema(path.resolve() if path is not None else None)
    diags = builder.diags
    structural = len(diags)
    places = dict(builder.segment_keys)
    for cat in catalogs:
        segments, keys, cdiags = _catalog(cat)
        diags.extend(cdiags)
        for name, seg in segments.items():
            if name in schema.segments:
                loc = keys.get(name, Located())
                first = _place(places.get(name, Located()))
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
    # A broken schema structure would echo through every expression, so stop there; a
    # broken or duplicate catalog entry only hides itself: check everything else.
    if any(d.is_error for d in builder.diags[:structural]):
        raise SchemaError([d for d in diags if d.is_error])
    from segql.checker.checker import check_schema

    diags.extend(check_schema(schema, limits=limits or DEFAULT_LIMITS))
    errors = [d for d in diags if d.is_error]
    if errors and not strict:
        diags = _skip_broken_segments(schema, diags)
        errors = [d for d in diags if d.is_error]
    if errors:
        raise SchemaError(errors)
    schema.warnings = [d for d in diags if not d.is_error]
    return schema


def _skip_broken_segments(schema: Schema, diags: list[Diagnostic]) -> list[Diagnostic]:
    """When every error lies inside a segment's definition, keep those errors on
    ``schema.broken`` and warn once per skipped segment; else change nothing."""
    broken = [n for n in schema.segments if n not in schema.segments_ir]
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
