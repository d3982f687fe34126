"""Running segments on a SQL engine other than the embedded DuckDB (CONTRACT §7).

An :class:`Adapter` knows one engine: how to connect, run a query, list tables and their
columns, stream rows and cancel. :class:`EngineDatabase` does the rest the same way on
every engine — compile through the pipeline, validate the schema against the real tables,
count, list members, return Arrow, export files — so that every engine answers alike.
"""

from __future__ import annotations

import abc
import datetime as dt
import difflib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from segql.backends.duckdb.export import ExportFormat
from segql.backends.sql.dialects import Profile, profile_for
from segql.backends.sql.plan import SqlOptions
from segql.backends.sql.query import build_query, render
from segql.core.diagnostics import Diagnostic, EngineError, Interrupted, SegqlError, with_source
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import Schema
from segql.core.types import Type
from segql.engines.analyses import Analyses
from segql.engines.selection import (
    select_values,
)
from segql.engines.values import (
    _key_type,
    _write,
    arrow_type,
    normalize,
    normalize_all,
    write_target,
)
from segql.ir import nodes as ir

__all__ = ["Adapter", "EngineDatabase", "select_values"]

T = TypeVar("T")
BATCH = 50_000  # rows per fetch when streaming an export


class Adapter(abc.ABC):
    """One engine: the few things that differ between them."""

    title: str  # in messages, e.g. "PostgreSQL"
    dialect: str  # the SQL dialect segql writes for it
    # what to do about a `file:` source the engine cannot read in place
    file_hints: tuple[str, ...] = ("load the file into a table, or run on DuckDB (the default)",)

    @abc.abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of a query."""

    def file_source(self, path: Path) -> Any | None:
        """A sqlglot node that reads a ``file:`` source in place, or None: this engine reads
        only tables (a file must be loaded into a table named after it)."""
        return None

    def file_columns(self, path: Path) -> dict[str, str] | None:
        """The columns of a file :meth:`file_source` reads (None: no such file)."""
        return None

    def first_column(self, sql: str) -> list[Any]:
        """The first column of a query's rows (engines with columnar results override this:
        member ids without a tuple per row)."""
        return [r[0] for r in self.rows(sql)]

    def batches(self, sql: str, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of a query in batches (engines that can stream override this)."""
        rows = self.rows(sql)
        for i in range(0, len(rows), size):
            yield rows[i : i + size]

    @abc.abstractmethod
    def relations(self) -> set[str]:
        """Names a schema may give the engine's tables and views (``t``, ``s.t``, …)."""

    @abc.abstractmethod
    def columns(self, table: str) -> dict[str, str] | None:
        """Column name -> engine type of a table (None if it does not exist)."""

    def interrupt(self) -> None:  # noqa: B027 - engines that cannot cancel do nothing
        """Cancel the running query (from another thread)."""

    def close(self) -> None:  # noqa: B027
        pass

    def failure(self, e: BaseException) -> EngineError | None:
        """The engine's own error as a diagnostic, or None if ``e`` is not one."""
        return None

    def copy_csv(
        self, query: Any, columns: list[str], types: list[Type], out: IO[bytes]
    ) -> int | None:
        """Write the members as CSV through the engine's own bulk path, in DuckDB's value
        forms; None when the engine has none (segql then writes the rows itself)."""
        return None

    def transaction(self) -> AbstractContextManager[Callable[[str], list[Any]]]:
        """One write transaction, yielding a function that runs a statement and returns
        its rows; committed at the end of the block, rolled back on an exception.
        Engines without transactions segql can rely on refuse (docs/snapshots.md)."""
        raise EngineError(
            Diagnostic(
                code="cannot-write",
                message=f"segql takes snapshots on DuckDB, PostgreSQL and SQLite, not on "
                f"{self.title}",
                hints=("run snapshot against one of those (--db), where the table can be "
                       "written in one transaction",),
            )
        )  # fmt: skip

    def writable(self, what: str) -> None:
        """Refuse to write through a connection opened read-only (``what``: how the
        message names it, e.g. "PostgreSQL connection")."""
        if not getattr(self, "write", False):
            raise EngineError(
                Diagnostic(
                    code="cannot-write",
                    message=f"this {what} is read-only: a snapshot writes",
                    hints=("open it with segql.connect(url, write=True)",),
                )
            )

    def lock(self, table: str) -> str | None:
        """A statement keeping other writers off ``table`` (SQL) until the transaction
        ends; None where writers exclude each other anyway."""
        return None


class EngineDatabase(Analyses):
    """Segments on one engine through its :class:`Adapter`; the same operations as
    :class:`segql.engine.Database`."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        timeout: float | None = None,
        limits: Limits | None = None,
        file_roots: Iterable[str | Path] | None = None,
    ) -> None:
        self.adapter = adapter
        # where `file:` sources may be read, on engines that read files in place
        self._roots = [Path(r).resolve() for r in file_roots] if file_roots is not None else None
        self.timeout = timeout
        self.limits = limits or DEFAULT_LIMITS
        # an adapter may bring its own profile (SQLite: functions segql registers)
        profile = getattr(adapter, "profile", None) or profile_for(adapter.dialect)
        assert profile is not None
        self.dialect: Profile = profile
        self._checked: dict[int, Schema] = {}
        self._lock = threading.Lock()

    # --- life ---------------------------------------------------------------------------
    def close(self) -> None:
        self.adapter.close()

    def __enter__(self) -> EngineDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def interrupt(self) -> None:
        self.adapter.interrupt()

    # --- queries ------------------------------------------------------------------------
    def _query(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        as_of: dt.datetime | dt.date | None,
        fields: Sequence[str],
        values: Sequence[tuple[str, ir.TExpr]] | None = None,
        *,
        batch: bool = False,
        points: Sequence[dt.datetime] = (),
    ) -> Any:
        from segql.pipeline import compile

        texpr = compile(source, schema, limits=self.limits)
        if values is None:
            values = select_values(schema, fields)
        self.validate(schema)
        try:
            return build_query(
                texpr,
                schema,
                profile=self.dialect,
                as_of=as_of,
                options=SqlOptions(
                    select=tuple(values),
                    sources=self._file_sources(schema),
                    batch=batch,
                    points=tuple(points),
                ),
            )
        except SegqlError as e:
            if not isinstance(source, str):
                raise
            raise type(e)(with_source(e.diagnostics, source)) from None

    def _text(self, query: Any) -> str:
        return render(query, self.dialect, pretty=False)

    def _rows(self, text: str, timeout: float | None) -> list[Any]:
        return self._call(lambda: self.adapter.rows(text), timeout)

    def _table(self, text: str, names: list[str], types: list[Type], timeout: float | None) -> Any:
        import pyarrow as pa

        rows = self._rows(text, timeout)
        arrays = [
            pa.array([normalize(r[i], t) for r in rows], type=arrow_type(t))
            for i, t in enumerate(types)
        ]
        return pa.Table.from_arrays(arrays, names=names)

    def sql(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        fields: Iterable[str] = (),
    ) -> str:
        """The SQL this database would run."""
        return render(self._query(source, schema, as_of, tuple(fields)), self.dialect)

    def count(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> int:
        from sqlglot import exp

        inner = self._query(source, schema, as_of, ())
        query = exp.select(exp.Count(this=exp.Star())).from_(inner.subquery("m"))
        text = self._text(query)
        rows = self._call(lambda: self.adapter.rows(text), timeout)
        return int(rows[0][0]) if rows else 0

    def member_ids(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        text = self._text(self._query(source, schema, as_of, ()))
        ids = self._call(lambda: self.adapter.first_column(text), timeout)
        return normalize_all(ids, _key_type(schema))

    def members(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        fields: Iterable[str] = (),
        timeout: float | None = None,
        channel: str | None = None,
        hash: str | None = None,
    ) -> Any:
        """Members with the chosen values (profile fields, traits, segmentations,
        ``EXPR as NAME``: CONTRACT §6.2), as a pyarrow Table; ``channel`` and ``hash`` as
        for :meth:`segql.engine.Database.members`."""
        from segql.engines.consent import plan_export

        values = select_values(schema, tuple(fields))
        plan = plan_export(source, schema, values, channel, hash, limits=self.limits)
        if plan is not None:
            source, values = plan.source, plan.values
        text = self._text(self._query(source, schema, as_of, (), values))
        columns, types = _columns(schema, values)
        table = self._table(text, columns, types, timeout)
        return plan.table(table) if plan is not None else table

    def export(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        target: str | Path | IO[bytes],
        *,
        format: ExportFormat | str,
        as_of: dt.datetime | dt.date | None = None,
        fields: Iterable[str] = (),
        timeout: float | None = None,
        channel: str | None = None,
        hash: str | None = None,
    ) -> int:
        """Write the members (key, then ``fields``) in the forms of
        :meth:`segql.engine.Database.export`, streamed in batches; a file appears complete
        or not at all."""
        from segql.engines.consent import plan_export

        fmt = ExportFormat(format)
        values = select_values(schema, tuple(fields))
        plan = plan_export(source, schema, values, channel, hash, limits=self.limits)
        if plan is not None:
            source, values = plan.source, plan.values
        query = self._query(source, schema, as_of, (), values)
        text = self._text(query)
        columns, types = _columns(schema, values)
        hashing = plan is not None and plan.column is not None

        def write(out: IO[bytes]) -> int:
            def work() -> int:
                if fmt is ExportFormat.CSV and not hashing:
                    n = self.adapter.copy_csv(query, columns, types, out)
                    if n is not None:
                        return n
                batches = self.adapter.batches(text)
                rows = plan.rows(batches) if plan is not None else batches
                return _write(rows, out, fmt, columns, types)

            return self._call(work, timeout)

        return write_target(target, write)

    # --- writing (snapshots) -------------------------------------------------------------
    def _relation_columns(self, name: str) -> dict[str, str] | None:
        if name not in self._call(self.adapter.relations):
            return None
        return self._call(lambda: self.adapter.columns(name))

    def _writing(self, work: Callable[[Callable[[str], list[Any]]], T], timeout: float | None) -> T:
        def transaction() -> T:
            with self.adapter.transaction() as run:
                return work(run)

        return self._call(transaction, timeout)

    def _lock_table(self, run: Callable[[str], list[Any]], table: Any) -> None:
        stmt = self.adapter.lock(self._text(table))
        if stmt is not None:
            run(stmt)

    # --- running ------------------------------------------------------------------------
    def _call(self, work: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``work`` on a worker thread, so that the timeout and Ctrl-C can cancel the
        engine's query; the engine's errors become diagnostics."""
        limit = self.timeout if timeout is None else timeout
        box: list[tuple[bool, Any]] = []

        def run() -> None:
            try:
                box.append((True, work()))
            except BaseException as e:  # handed to the waiting thread
                box.append((False, e))

        worker = threading.Thread(target=run, name="segql-query", daemon=True)
        worker.start()
        expired = interrupted = False
        try:
            worker.join(limit)
            expired = worker.is_alive()
        except KeyboardInterrupt:
            interrupted = True
        # Cancel until the worker ends: an engine cancels only what is running, and a job
        # may start after the first request (Spark plans before it submits).
        while worker.is_alive() and (expired or interrupted):
            self.adapter.interrupt()
            worker.join(0.25)
        if interrupted:
            raise Interrupted(Diagnostic(code="interrupted", message="the query was interrupted"))
        ok, value = box.pop()
        if ok and not expired:
            return cast(T, value)
        if expired:
            raise EngineError(
                Diagnostic(
                    code="timeout",
                    message=f"the query ran longer than the timeout ({limit:g} s) and was stopped",
                    hints=("raise the timeout (--timeout SECONDS) or narrow the segment",),
                )
            ) from None
        if isinstance(value, SegqlError):
            raise value
        known = self.adapter.failure(value)
        if known is not None:
            raise known from None
        raise value

    def _file_sources(self, schema: Schema) -> dict[str, Any]:
        """How this engine reads each ``file:`` source in place (none: it reads tables)."""
        out: dict[str, Any] = {}
        for src in (schema.entity.source, *(s.source for s in schema.streams.values())):
            if src.file is not None:
                node = self.adapter.file_source(src.file)
                if node is not None:
                    out[str(src.file)] = node
        return out

    # --- schema validation --------------------------------------------------------------
    def validate(self, schema: Schema) -> None:
        """Compare the schema with the real tables; raise with every mismatch found."""
        if self._checked.get(id(schema)) is schema:
            return
        relations = self._call(self.adapter.relations)
        from segql.backends.duckdb import validation

        diag, missing_columns = validation.diag, validation.missing_columns
        diags: list[Diagnostic] = []
        readable = self._file_sources(schema)
        if readable:
            roots = self._roots if self._roots is not None else validation.default_roots(schema)
            validation.check_files(schema, roots)
        for what, src, where, wanted in validation.wanted_columns(schema):
            if src.file is not None:
                if str(src.file) not in readable:
                    diags.append(
                        diag(
                            "file-source",
                            f"{what} reads the file `{src.file.name}`, which "
                            f"{self.adapter.title} cannot read in place here; every source "
                            "must be a `table:`",
                            where,
                            *self.adapter.file_hints,
                        )
                    )
                    continue
                have = self._call(lambda p=src.file: self.adapter.file_columns(p))  # type: ignore[misc]
                if have is None:
                    diags.append(
                        diag("missing-table", f"file `{src.file}` of {what} does not exist", where)
                    )
                    continue
                diags += missing_columns(src.file.name, have, wanted)
                continue
            assert src.table is not None
            have = (
                self._call(lambda t=src.table: self.adapter.columns(t))  # type: ignore[misc]
                if src.table in relations
                else None
            )
            if have is None:
                near = difflib.get_close_matches(src.table, sorted(relations), n=1)
                if not near and "." not in src.table:
                    near = [t for t in sorted(relations) if t.endswith("." + src.table)][:1]
                diags.append(
                    diag(
                        "missing-table",
                        f"table `{src.table}` of {what} does not exist",
                        where,
                        *(f"did you mean `{n}`?" for n in near),
                    )
                )
                continue
            diags += missing_columns(src.table, have, wanted)
        if diags:
            raise EngineError(diags)
        with self._lock:
            self._checked = {k: v for k, v in self._checked.items() if v is not schema}
            self._checked[id(schema)] = schema


def mapping_relations(rows: Iterable[tuple[str, str, bool]]) -> set[str]:
    """``schema.table`` for every row, and the bare ``table`` for those in the current
    schema (search path)."""
    out: set[str] = set()
    for schema, table, current in rows:
        out.add(f"{schema}.{table}")
        if current:
            out.add(table)
    return out


def first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def engine_error(title: str, e: BaseException) -> EngineError:
    return EngineError(
        Diagnostic(code="engine", message=f"{title} could not run the segment: {first_line(e)}")
    )


def _columns(
    schema: Schema, values: Sequence[tuple[str, ir.TExpr]]
) -> tuple[list[str], list[Type]]:
    columns = [schema.entity.key, *(n for n, _ in values)]
    return columns, [_key_type(schema), *(v.type for _, v in values)]
