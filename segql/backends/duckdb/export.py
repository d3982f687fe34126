"""Member exports through DuckDB's own writer (``COPY … TO``), in standard value forms."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.types import Type


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"

    @classmethod
    def of_path(cls, path: str | Path) -> ExportFormat | None:
        """The format a file name asks for (``.csv``, ``.jsonl``/``.ndjson``,
        ``.parquet``/``.pq``), or None."""
        suffix = Path(path).suffix.lower().lstrip(".")
        return _SUFFIXES.get(suffix)


_SUFFIXES = {
    "csv": ExportFormat.CSV,
    "jsonl": ExportFormat.JSONL,
    "ndjson": ExportFormat.JSONL,
    "parquet": ExportFormat.PARQUET,
    "pq": ExportFormat.PARQUET,
}


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed over it only when the write succeeds."""
    from segql.core.fsutil import atomic_path

    try:
        with atomic_path(path) as tmp:
            tmp.unlink()  # DuckDB's COPY creates the file itself
            yield tmp
    except OSError as e:
        raise EngineError(
            Diagnostic(code="bad-output", message=f"cannot write `{path}`: {e.strerror or e}")
        ) from None


def copy_statement(query: Any, fmt: ExportFormat, path: Path) -> Any:
    """``COPY (query) TO 'path' (FORMAT …)`` as a sqlglot tree."""
    from sqlglot import exp

    by_format: dict[ExportFormat, list[tuple[str, Any]]] = {
        ExportFormat.CSV: [("FORMAT", exp.var("CSV")), ("HEADER", exp.true())],
        ExportFormat.JSONL: [("FORMAT", exp.var("JSON"))],
        ExportFormat.PARQUET: [("FORMAT", exp.var("PARQUET"))],
    }
    return exp.Copy(
        this=exp.Subquery(this=query),
        kind=False,
        files=[exp.Literal.string(str(path))],
        params=[exp.CopyParameter(this=exp.var(k), expression=v) for k, v in by_format[fmt]],
    )


def export_select(inner: Any, columns: list[str], types: list[Type], fmt: ExportFormat) -> Any:
    """The members query with each value in its export form."""
    from sqlglot import exp

    from segql.backends.sql.dialects import dtype

    def value(name: str, t: Type) -> Any:
        col = exp.Column(this=exp.to_identifier(name, quoted=True))
        if t is Type.TIMESTAMP:
            if fmt is ExportFormat.PARQUET:
                return exp.cast(col, dtype("TIMESTAMPTZ"), copy=False)
            ts = exp.cast(col, dtype("TIMESTAMP"), copy=False)
            whole = exp.EQ(
                this=exp.Mod(
                    this=exp.Anonymous(this="microsecond", expressions=[ts.copy()]),
                    expression=exp.Literal.number(1_000_000),
                ),
                expression=exp.Literal.number(0),
            )

            def text(pattern: str) -> Any:
                return exp.Anonymous(
                    this="strftime", expressions=[ts.copy(), exp.Literal.string(pattern)]
                )

            return exp.Case(
                ifs=[exp.If(this=whole, true=text("%Y-%m-%dT%H:%M:%SZ"))],
                default=text("%Y-%m-%dT%H:%M:%S.%fZ"),
            )
        if t.is_list and fmt is ExportFormat.CSV:
            return exp.Anonymous(this="to_json", expressions=[col])
        return col

    return exp.select(
        *(
            exp.alias_(value(n, t), n, quoted=True, copy=False)
            for n, t in zip(columns, types, strict=True)
        ),
        copy=False,
    ).from_(inner.subquery("m", copy=False), copy=False)
