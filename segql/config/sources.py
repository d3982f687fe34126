"""Reading the entity, its fields and the event streams of a schema document."""

from __future__ import annotations

from pathlib import Path

from segql.config.nodes import Node
from segql.config.reading import (
    ENTITY_KEYS,
    FIELD_KEYS,
    FILE_SUFFIXES,
    STREAM_KEYS,
    TYPE_NAMES,
    Reader,
    did_you_mean,
    is_empty,
    suggest,
)
from segql.core.schema import (
    Entity,
    FieldDef,
    Located,
    Source,
    Stream,
)
from segql.core.types import Type, parse_type, suggest_type


class SourcesReader(Reader):
    """Builds the entity and streams: sources, columns, types, fields and values."""

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
            parts = name.split(".") if name is not None else []
            if name is not None and (len(parts) > 3 or any(not p.strip() for p in parts)):
                self.report(
                    "schema-bad-value",
                    f"`{name}` is not a table name for {owner}",
                    table[1],
                    "write `table`, `schema.table` or `catalog.schema.table`",
                )
                return Source()
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
        hits = [alias] if alias else suggest(text, TYPE_NAMES)
        self.report(
            "schema-bad-type",
            f"unknown type `{text}` for field `{field}` {owner}",
            node,
            *(did_you_mean(hits) or ("types: " + ", ".join(TYPE_NAMES),)),
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
        if is_empty(node):
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
