"""Engine values as segql's: normalizing what each driver returns, and writing members
in the export forms of :meth:`segql.engine.Database.export`, batch by batch."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from segql.backends.duckdb.export import ExportFormat
from segql.core.schema import Schema
from segql.core.types import Type


def _key_type(schema: Schema) -> Type:
    fd = schema.entity.fields.get(schema.entity.key)
    return fd.type if fd is not None else Type.INTEGER


def arrow_type(t: Type) -> Any:
    import pyarrow as pa

    return {
        Type.STRING: pa.string(),
        Type.INTEGER: pa.int64(),
        Type.FLOAT: pa.float64(),
        Type.DECIMAL: None,  # inferred from the values' scale
        Type.BOOLEAN: pa.bool_(),
        Type.DATE: pa.date32(),
        Type.TIMESTAMP: pa.timestamp("us", tz="UTC"),
        Type.LIST_STRING: pa.list_(pa.string()),
        Type.LIST_INTEGER: pa.list_(pa.int64()),
        Type.NULL: pa.null(),
    }.get(t)


def normalize(v: Any, t: Type) -> Any:
    """An engine's value as segql's Python value of type ``t`` (SQLite's text times and
    0/1 booleans, floats for decimals, naive UTC timestamps, JSON-text lists)."""
    if v is None:
        return None
    match t:
        case Type.TIMESTAMP:
            if isinstance(v, str):
                v = dt.datetime.fromisoformat(v)
            if isinstance(v, dt.datetime):
                return v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v.astimezone(dt.UTC)
            return v
        case Type.DATE:
            if isinstance(v, str):
                return dt.date.fromisoformat(v[:10])
            if isinstance(v, dt.datetime):
                return v.date()
            return v
        case Type.BOOLEAN:
            return bool(v)
        case Type.DECIMAL:
            return decimal.Decimal(str(v)) if not isinstance(v, decimal.Decimal) else v
        case Type.INTEGER:
            return int(v)
        case Type.FLOAT:
            return float(v)
        case Type.LIST_STRING | Type.LIST_INTEGER:
            return json.loads(v) if isinstance(v, str) else list(v)
        case _:
            return v


def normalize_all(values: list[Any], t: Type) -> list[Any]:
    """:func:`normalize` over a column, skipping the per-value call where the engine's
    values are already segql's (text, and integers from a typed driver)."""
    if t is Type.STRING:
        return values
    if t is Type.INTEGER and all(type(v) is int for v in values):
        return values
    return [normalize(v, t) for v in values]


def _text_value(v: Any, t: Type) -> Any:
    """A value in the export forms of segql.engine.Database.export."""
    v = normalize(v, t)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, dt.datetime):
        v = v.astimezone(dt.UTC)
        spec = "seconds" if v.microsecond == 0 else "microseconds"
        return v.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _write(
    batches: Iterator[list[tuple[Any, ...]]],
    out: IO[bytes],
    fmt: ExportFormat,
    columns: list[str],
    types: list[Type],
) -> int:
    import io

    n = 0
    if fmt is ExportFormat.PARQUET:
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer: Any = None
        try:
            for rows in batches:
                arrays = [
                    pa.array([normalize(r[i], t) for r in rows], type=arrow_type(t))
                    for i, t in enumerate(types)
                ]
                table = pa.Table.from_arrays(arrays, names=columns)
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema)
                writer.write_table(table)
                n += len(rows)
            if writer is None:
                empty = pa.Table.from_arrays(
                    [pa.array([], type=arrow_type(t) or pa.string()) for t in types],
                    names=columns,
                )
                pq.write_table(empty, out)
        finally:
            if writer is not None:
                writer.close()
        return n
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        if fmt is ExportFormat.CSV:
            text.write(",".join(_csv_field(c) for c in columns) + "\n")
            for rows in batches:
                for r in rows:
                    cells = zip(r, types, strict=True)
                    text.write(",".join(_csv_cell(_text_value(v, t)) for v, t in cells) + "\n")
                n += len(rows)
        else:
            names = [json.dumps(c, ensure_ascii=False) + ":" for c in columns]
            for rows in batches:
                for r in rows:
                    fields = zip(names, r, types, strict=True)
                    text.write("{" + ",".join(k + _json(_text_value(v, t)) for k, v, t in fields))
                    text.write("}\n")
                n += len(rows)
        text.flush()
    finally:
        with contextlib.suppress(Exception):
            text.detach()
    return n


def write_target(target: str | Path | IO[bytes], write: Callable[[IO[bytes]], int]) -> int:
    """``write`` into a binary stream, or into a file that appears complete or not at all."""
    if not isinstance(target, str | Path):
        return write(target)
    from segql.core.diagnostics import Diagnostic, EngineError
    from segql.core.fsutil import atomic_path

    try:
        with atomic_path(Path(target)) as tmp, open(tmp, "wb") as f:
            return write(f)
    except OSError as e:
        raise EngineError(
            Diagnostic(code="bad-output", message=f"cannot write `{target}`: {e.strerror or e}")
        ) from None


def _csv_cell(v: Any) -> str:
    """One CSV field as DuckDB's COPY writes it: null is empty, an empty string is `""`."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return _csv_field(json.dumps(v, ensure_ascii=False, separators=(",", ":")))
    if isinstance(v, str):
        return _csv_field(v)
    return str(v)


def _csv_field(text: str) -> str:
    if text == "" or any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _json(v: Any) -> str:
    """A value as DuckDB's JSON export writes it: compact, decimals with their scale."""
    if isinstance(v, decimal.Decimal):
        return str(v)
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
