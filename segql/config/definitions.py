"""Reading traits, segments and catalogs, and assembling the :class:`Schema`."""

from __future__ import annotations

from pathlib import Path

from segql.config.channels import read_channels
from segql.config.experiments import ExperimentsReader
from segql.config.nodes import Node
from segql.config.reading import (
    CATALOG_KEYS,
    SEGMENT_HINTS,
    SEGMENT_KEYS,
    SEGMENTATION_KEYS,
    TOP_HINTS,
    TOP_KEYS,
    TRAIT_HINTS,
    TRAIT_KEYS,
    is_empty,
    place,
)
from segql.core.diagnostics import NO_SPAN, Diagnostic
from segql.core.schema import (
    ClassDef,
    Entity,
    Located,
    Schema,
    SegmentationDef,
    SegmentDef,
    Source,
    Stream,
    TraitDef,
)


class SchemaBuilder(ExperimentsReader):
    """Builds traits, segments and catalogs, then the whole schema."""

    def traits(self, node: Node) -> dict[str, TraitDef]:
        out: dict[str, TraitDef] = {}
        if is_empty(node):
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
                self.check_keys(v, TRAIT_KEYS, f"trait `{name}`", TRAIT_HINTS)
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
        if is_empty(node):
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
            self.check_keys(node, SEGMENT_KEYS, f"segment `{name}`", SEGMENT_HINTS)
            description = self.description(node, f"segment `{name}`")
            tags = self.tags(node.get("tags"), name)
            where_node = node.get("where")
            if where_node is None and not any(node.get(k) is not None for k in SEGMENT_HINTS):
                self.report("schema-missing-key", f"segment `{name}` has no `where:`", key)
        if where_node is None:
            return None
        got = self.expression(where_node, f"segment `{name}`")
        if got is None:
            return None
        return SegmentDef(name=name, text=got[0], description=description, tags=tags, where=got[1])

    def read_segmentations(self, node: Node) -> None:
        """``segmentations:`` (CONTRACT §6.1), into ``self.segmentations``."""
        if is_empty(node):
            return
        if not self.mapping(
            node,
            "`segmentations` must be a mapping of names to segmentations",
            "for example `segmentations: {loyalty: {classes: {loyal: purchases >= 4}}}`",
        ):
            return
        for k, v in node.entries:
            if not self.name_ok(k, "segmentation"):
                continue
            got = self.segmentation(k, v)
            if got is not None:
                self.segmentations[got.name] = got

    def segmentation(self, key: Node, node: Node) -> SegmentationDef | None:
        name = str(key.value)
        what = f"segmentation `{name}`"
        if not node.is_map:
            self.report(
                "schema-bad-value",
                f"{what} must be a mapping with `classes:`",
                node,
                "for example `classes: {loyal: purchases >= 4, occasional: purchases >= 1}`",
            )
            return None
        self.check_keys(node, SEGMENTATION_KEYS, what, {})
        description = self.description(node, what)
        classes_node = node.get("classes")
        if (
            classes_node is None
            or is_empty(classes_node)
            or (classes_node.is_map and not classes_node.entries)
        ):
            self.report("schema-missing-key", f"{what} has no `classes:`", key)
            return None
        if not self.mapping(
            classes_node,
            f"the `classes` of {what} must be an ordered mapping of class names to conditions",
            "a contact is in the first class whose condition is true",
        ):
            return None
        classes: list[ClassDef] = []
        for ck, cv in classes_node.entries:
            if not self.name_ok(ck, "class"):
                continue
            cname = str(ck.value)
            got = self.expression(cv, f"class `{cname}` of {what}")
            if got is not None:
                classes.append(ClassDef(name=cname, text=got[0], where=got[1]))
        otherwise: str | None = None
        other_node = node.get("otherwise")
        if other_node is not None:
            otherwise = self.string(other_node, f"the `otherwise` class of {what}")
            if otherwise is not None and otherwise in {c.name for c in classes}:
                self.report(
                    "schema-duplicate-name",
                    f"the `otherwise` class `{otherwise}` of {what} is also one of its classes",
                    other_node,
                    "`otherwise` names the class of contacts in none of the others",
                )
                otherwise = None
        return SegmentationDef(
            name=name,
            classes=tuple(classes),
            otherwise=otherwise,
            description=description,
            where=key.located(),
        )

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
            where = place(first_loc)
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
        self.check_keys(root, TOP_KEYS, "the schema", TOP_HINTS)
        tz_node = root.get("timezone")
        timezone = self.timezone(tz_node) if tz_node is not None else "UTC"
        entity = self.entity(root)
        events = root.get("events")
        streams = self.streams(events) if events is not None else {}
        traits_node = root.get("traits")
        traits = self.traits(traits_node) if traits_node is not None else {}
        segs_node = root.get("segments")
        segments = self.segments(segs_node) if segs_node is not None else {}
        classes_node = root.get("segmentations")
        if classes_node is not None:
            self.read_segmentations(classes_node)
        experiments_node = root.get("experiments")
        if experiments_node is not None:
            self.read_experiments(experiments_node)
        self.namespace(entity, streams, traits)
        channels_node = root.get("channels")
        channels = read_channels(self, channels_node, entity) if channels_node is not None else {}
        return Schema(
            timezone=timezone,
            entity=entity,
            streams=streams,
            traits=traits,
            segments=segments,
            segmentations=dict(self.segmentations),
            experiments=dict(self.experiments),
            channels=channels,
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
            k: "a catalog holds only `segments:`, `segmentations:` and `experiments:`; this "
            "belongs in the schema file"
            for k in TOP_KEYS
            if k not in CATALOG_KEYS
        }
        self.check_keys(root, CATALOG_KEYS, "the catalog", special)
        classes_node = root.get("segmentations")
        if classes_node is not None:
            self.read_segmentations(classes_node)
        experiments_node = root.get("experiments")
        if experiments_node is not None:
            self.read_experiments(experiments_node)
        node = root.get("segments")
        if node is None and (classes_node is not None or experiments_node is not None):
            return {}
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
