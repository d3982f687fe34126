"""Comparing a schema with the real tables and files, so that a typo is a positioned
diagnostic with a suggestion, never a DuckDB traceback."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError, relocate
from segql.core.schema import FieldDef, Located, Schema, Source

# Runs a query and its fetch on the connection (cancellably), returning the rows.
Run = Callable[[str, list[Any]], list[tuple[Any, ...]]]


def reader(path: Path) -> str:
    """The DuckDB table function that reads a ``file:`` source."""
    return "read_csv_auto" if path.suffix.lower() == ".csv" else "read_parquet"


def sources(schema: Schema) -> list[Source]:
    return [schema.entity.source, *(s.source for s in schema.streams.values())]


def diag(code: str, message: str, where: Located | None = None, *hints: str) -> Diagnostic:
    d = Diagnostic(code=code, message=message, hints=hints)
    if where is not None and where.span is not None and where.text is not None:
        return dataclasses.replace(d, span=where.span, file=where.file, source=where.text)
    if where is not None and where.file is not None:
        return relocate(d, file=where.file, text=None, offsets=None)
    return d


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def default_roots(schema: Schema) -> list[Path]:
    """Where ``file:`` sources may be read unless the caller says otherwise: the schema
    file's folder, or the current folder for a schema made in code."""
    return [schema.path.parent if schema.path is not None else Path.cwd().resolve()]


def check_files(schema: Schema, roots: list[Path]) -> None:
    """Every ``file:`` source lies under the allowed roots."""
    diags = []
    owners = [("the entity", schema.entity.source, schema.entity.where)]
    owners += [(f"stream `{s.name}`", s.source, s.where) for s in schema.streams.values()]
    for what, src, where in owners:
        if src.file is not None and not _inside(src.file.resolve(), roots):
            diags.append(
                diag(
                    "file-not-allowed",
                    f"file `{src.file}` of {what} is outside the folders segql may read",
                    where,
                    "allowed: " + ", ".join(f"`{r}`" for r in roots),
                    "move the file under the schema's folder, or allow its folder "
                    "(--allow-files DIR, or Database(file_roots=[...]))",
                )
            )
    if diags:
        raise EngineError(diags)


def _relations(run: Run) -> dict[str, str]:
    """Tables and views of the database (registered frames included), by the names a
    schema may give them: ``name`` in the current schema, ``schema.name`` and
    ``catalog.schema.name`` everywhere."""
    rows = run(
        "SELECT table_catalog, table_schema, table_name, table_type, "
        "table_schema = current_schema() "
        "FROM information_schema.tables",
        [],
    )
    out: dict[str, str] = {}
    for catalog, schema, name, kind, current in rows:
        out[f"{catalog}.{schema}.{name}"] = kind
        out.setdefault(f"{schema}.{name}", kind)
        if current:  # (registered frames live in the `temp` catalog)
            out.setdefault(name, kind)
    return out


def table_sql(name: str) -> str:
    """``name`` (``a``, ``s.a`` or ``c.s.a``) as DuckDB SQL, each part quoted."""
    from sqlglot import exp

    parts = [exp.to_identifier(p, quoted=True) for p in name.split(".")]
    kw: dict[str, Any] = {"this": parts[-1]}
    if len(parts) >= 2:
        kw["db"] = parts[-2]
    if len(parts) == 3:
        kw["catalog"] = parts[0]
    return str(exp.Table(**kw).sql(dialect="duckdb"))


def table_columns(run: Run, name: str) -> dict[str, str] | None:
    """Column name -> type of table or view ``name`` (None: there is none)."""
    if name not in _relations(run):
        return None
    return {r[0]: str(r[1]) for r in run(f"DESCRIBE SELECT * FROM {table_sql(name)}", [])}


def _columns(run: Run, src: Source, relations: Mapping[str, str]) -> dict[str, str] | None:
    if src.file is not None:
        if not src.file.exists():
            return None
        query = f"DESCRIBE SELECT * FROM {reader(src.file)}(?)"
        params: list[Any] = [str(src.file)]
    else:
        assert src.table is not None
        # Only a real table or view: DuckDB would otherwise read a file or URL of that
        # name (a replacement scan).
        if src.table not in relations:
            return None
        query = f"DESCRIBE SELECT * FROM {table_sql(src.table)}"
        params = []
    try:
        rows = run(query, params)
    except EngineError as e:
        raise EngineError(
            dataclasses.replace(
                e.diagnostic, message=f"cannot read `{src.label}`: {e.diagnostic.message}"
            )
        ) from None
    return {r[0]: str(r[1]) for r in rows}


def _field_columns(fields: Mapping[str, FieldDef]) -> list[tuple[str, Located | None]]:
    return [(f.column, f.where) for f in fields.values()]


Wanted = list[tuple[str, Source, Located, list[tuple[str, Located | None]]]]


def wanted_columns(schema: Schema) -> Wanted:
    """(what, source, where, [(column, where)]) for the entity and each stream."""
    entity = schema.entity
    groups: Wanted = [
        (
            "the entity",
            entity.source,
            entity.where,
            [(entity.key, entity.where), *_field_columns(entity.fields)],
        )
    ]
    for stream in schema.streams.values():
        cols: list[tuple[str, Located | None]] = [
            (stream.key, stream.where),
            (stream.time, stream.where),
        ]
        cols += _field_columns(stream.fields)
        groups.append((f"stream `{stream.name}`", stream.source, stream.where, cols))
    return groups


def missing_columns(
    label: str, have: Mapping[str, str], cols: list[tuple[str, Located | None]]
) -> list[Diagnostic]:
    """A `missing-column` diagnostic, with a suggestion, for each column not in ``have``."""
    out = []
    for col, loc in cols:
        if col in have:
            continue
        near = difflib.get_close_matches(col, have, n=1)
        out.append(
            diag(
                "missing-column",
                f"table `{label}` has no column `{col}`",
                loc,
                *((f"did you mean `{near[0]}`?",) if near else ()),
                "columns: " + ", ".join(sorted(have)[:20]),
            )
        )
    return out


def validate(schema: Schema, run: Run) -> None:
    """Compare the schema with the real tables; raise with every mismatch found."""
    relations = _relations(run)
    diags: list[Diagnostic] = []
    for what, src, where, cols in wanted_columns(schema):
        have = _columns(run, src, relations)
        if have is None:
            diags.append(_missing(what, src, where, relations))
            continue
        diags += missing_columns(src.label, have, cols)
    if diags:
        raise EngineError(diags)


# Suffixes that make a `table:` look like a file name (a schema may still name `s.t`).
_FILE_TYPES = frozenset(
    ["csv", "tsv", "txt", "parquet", "pq", "json", "jsonl", "ndjson", "xlsx", "xls", "gz", "zst"]
)


def _missing(what: str, src: Source, where: Located, relations: Mapping[str, str]) -> Diagnostic:
    if src.file is not None:
        return diag("missing-table", f"file `{src.file}` of {what} does not exist", where)
    tables = sorted(relations)
    near = difflib.get_close_matches(src.label, tables, n=1)
    if not near and "." not in src.label:  # `customers` for `crm.customers`
        near = [t for t in tables if t.count(".") == 1 and t.endswith("." + src.label)][:1]
    hints = [f"did you mean `{h}`?" for h in near]
    if not tables:
        hints.append("the database has no tables; is --db the right file?")
    if "/" in src.label or src.label.lower().rsplit(".", 1)[-1] in _FILE_TYPES:
        hints.append("`table:` names a table or view; use `file:` for a file")
    return diag("missing-table", f"table `{src.label}` of {what} does not exist", where, *hints)
