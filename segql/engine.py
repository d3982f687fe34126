"""Running segments on an embedded DuckDB (CONTRACT §4.2 `count`/`members`).

Data can be a DuckDB database file, ``file:`` sources (Parquet, CSV) named in the schema,
or data frames (pandas, polars, Arrow) registered under table names. Before a query runs,
the schema is compared with the real tables, so a typo is a positioned diagnostic with a
suggestion, never a DuckDB traceback.

A connection segql opens itself is locked down before its first query (see
docs/security.md): no extension is installed or loaded, a ``table:`` only ever names a
table or view, and DuckDB may read files only under the allowed roots (the schema's
folder by default) and write only into a private folder for exports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import enum
import functools
import importlib.util
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from segql.backends.sql.dialects import profile_for
from segql.backends.sql.plan import SqlOptions
from segql.backends.sql.query import build_query
from segql.core.diagnostics import (
    Diagnostic,
    EngineError,
    Interrupted,
    SegqlError,
    relocate,
    with_source,
)
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import FieldDef, Located, Schema, Source
from segql.core.types import Type
from segql.ir import nodes as ir

__all__ = ["Database", "ExportFormat"]

T = TypeVar("T")


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


def _diag(code: str, message: str, where: Located | None = None, *hints: str) -> Diagnostic:
    d = Diagnostic(code=code, message=message, hints=hints)
    if where is not None and where.span is not None and where.text is not None:
        return dataclasses.replace(d, span=where.span, file=where.file, source=where.text)
    if where is not None and where.file is not None:
        return relocate(d, file=where.file, text=None, offsets=None)
    return d


def _perfect_hash_bits(threads: int, memory: int) -> int:
    """The widest group key (in bits) DuckDB may aggregate into a perfect hash table.

    A perfect table is an array indexed by the key, allocated at full size by each thread:
    2**bits slots of up to ~128 bytes of aggregate state. Segments aggregate event streams
    by the entity key, usually a dense integer id, where the array beats hashing by up to
    2x, so allow it while all threads' arrays stay within a sixteenth of memory (see
    docs/performance.md). DuckDB's default is 12 bits."""
    bits = 12
    while bits < 24 and (2 ** (bits + 1)) * 128 * max(1, threads) <= memory // 16:
        bits += 1
    return bits


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def _tune(con: Any) -> None:
    # DuckDB's own progress bar writes into the output stream; the CLI reports progress.
    con.execute("SET enable_progress_bar = false")
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    bits = _perfect_hash_bits(threads, _physical_memory())
    con.execute(f"SET perfect_ht_threshold = {bits}")


_INTEGER_TYPES = frozenset(
    ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"]
)


@functools.cache
def _has_numpy() -> bool:
    return importlib.util.find_spec("numpy") is not None


def _reader(path: Path) -> str:
    return "read_csv_auto" if path.suffix.lower() == ".csv" else "read_parquet"


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


class Database:
    """A DuckDB connection prepared for segql: session time zone UTC, ``file:`` sources
    readable, data frames registered by name.

    ``db`` is a DuckDB database file (opened read-only unless ``read_only=False``), or
    None for an in-memory database. ``file_roots`` are the folders ``file:`` sources may
    lie in (default: the folder of the schema first queried, or the current folder for a
    schema given as a dict). ``timeout`` (seconds) bounds every query; a query past it,
    or cancelled by :meth:`interrupt` or Ctrl-C, raises :class:`EngineError`.

    A connection passed in keeps its settings: segql neither tunes nor locks it."""

    def __init__(
        self,
        db: str | Path | None = None,
        *,
        frames: Mapping[str, Any] | None = None,
        read_only: bool = True,
        connection: Any = None,
        file_roots: Iterable[str | Path] | None = None,
        timeout: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        import duckdb

        self._own = connection is None
        self._roots = [Path(r).resolve() for r in file_roots] if file_roots is not None else None
        self._locked = False
        self._export_dir: Path | None = None
        self.timeout = timeout
        self.limits = limits or DEFAULT_LIMITS
        self._checked: dict[int, Schema] = {}
        if connection is not None:
            self.con = connection
        else:
            # Extensions are never installed or loaded on the user's behalf: a `table:`
            # such as `https://…` or `x.xlsx` must not fetch code from the network.
            config: dict[str, str | bool | int | float | list[str]] = {
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
            try:
                if db is None:
                    self.con = duckdb.connect(config=config)
                else:
                    path = Path(db)
                    if read_only and not path.is_file():
                        raise EngineError(
                            Diagnostic(
                                code="missing-database",
                                message=f"database file `{path}` does not exist"
                                if not path.exists()
                                else f"`{path}` is not a database file",
                                hints=("pass the path of a DuckDB database file with --db",),
                            )
                        )
                    self.con = duckdb.connect(str(path), read_only=read_only, config=config)
            except duckdb.Error as e:
                raise EngineError(
                    Diagnostic(code="engine", message=f"cannot open the database: {_first(e)}")
                ) from None
        self.con.execute("SET TimeZone = 'UTC'")
        if self._own:
            # Python objects are visible to SQL only when registered by name.
            self.con.execute("SET python_enable_replacements = false")
            _tune(self.con)
        for name, frame in (frames or {}).items():
            self.con.register(name, frame)

    def close(self) -> None:
        self.con.close()
        if self._export_dir is not None:
            shutil.rmtree(self._export_dir, ignore_errors=True)
            self._export_dir = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def interrupt(self) -> None:
        """Cancel the running query (from another thread); it raises ``interrupted``."""
        self.con.interrupt()

    # --- lock-down --------------------------------------------------------------------
    def _allowed_roots(self, schema: Schema) -> list[Path]:
        if self._roots is not None:
            return self._roots
        return [schema.path.parent if schema.path is not None else Path.cwd().resolve()]

    def _lock(self, schema: Schema) -> None:
        """Before the first query of a connection segql opened: files only under the
        allowed roots, writes only into a private export folder, configuration locked."""
        if not self._own or self._locked:
            return
        roots = self._allowed_roots(schema)
        self._roots = roots
        self._export_dir = Path(tempfile.mkdtemp(prefix="segql-export-"))
        dirs = [str(r) + os.sep for r in roots] + [str(self._export_dir) + os.sep]
        self.con.execute("SET allowed_directories = ?", [dirs])
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        self._locked = True

    # --- queries ----------------------------------------------------------------------
    def sql(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        fields: Iterable[str] = (),
    ) -> str:
        """The DuckDB SQL this database would run (file sources read in place)."""
        return str(self._query(source, schema, as_of, tuple(fields)).sql(dialect="duckdb"))

    def _values(self, schema: Schema, fields: tuple[str, ...]) -> list[tuple[str, ir.TExpr]]:
        """Profile fields and traits to return beside the key, by name."""
        out: list[tuple[str, ir.TExpr]] = []
        diags: list[Diagnostic] = []
        seen: set[str] = set()
        known = [*schema.entity.fields, *schema.traits]
        for name in fields:
            if name in seen:
                diags.append(Diagnostic(code="bad-fields", message=f"`{name}` is asked for twice"))
                continue
            seen.add(name)
            fd = schema.entity.fields.get(name)
            if fd is not None:
                out.append((name, ir.Field(name=name, column=fd.column, type=fd.type)))
            elif name in schema.traits_ir:
                out.append((name, schema.traits_ir[name]))
            elif name == schema.entity.key:
                continue  # the key is always the first column
            else:
                near = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean `{near[0]}`?" if near else None
                listing = "profile fields and traits: " + ", ".join(sorted(known)[:30])
                diags.append(
                    Diagnostic(
                        code="unknown-name",
                        message=f"unknown field `{name}`",
                        hints=tuple(h for h in (hint, listing) if h),
                    )
                )
        if diags:
            raise EngineError(diags)
        return out

    def _query(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        as_of: dt.datetime | dt.date | None,
        fields: tuple[str, ...],
    ) -> Any:
        from sqlglot import exp

        from segql.pipeline import compile

        texpr = compile(source, schema, limits=self.limits)
        values = self._values(schema, fields)
        self.validate(schema)
        sources: dict[str, Any] = {}
        for src in self._sources(schema):
            if src.file is not None:
                sources[str(src.file)] = exp.Anonymous(
                    this=_reader(src.file), expressions=[exp.Literal.string(str(src.file))]
                )
        profile = profile_for("duckdb")
        assert profile is not None
        try:
            return build_query(
                texpr,
                schema,
                profile=profile,
                as_of=as_of,
                options=SqlOptions(sources=sources, select=tuple(values)),
            )
        except SegqlError as e:  # found while compiling (a time out of range): show the line
            if not isinstance(source, str):
                raise
            raise type(e)(with_source(e.diagnostics, source)) from None

    def _call(self, work: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``work`` (a query and its fetch) on a worker thread while this thread waits,
        so that Ctrl-C and the timeout cancel DuckDB at once (DuckDB notices a signal only
        between tasks, which can be minutes apart, and Python's default handler kills
        the query thread); engine failures become diagnostics."""
        limit = self.timeout if timeout is None else timeout
        box: list[tuple[bool, Any]] = []

        def run() -> None:
            try:
                box.append((True, work()))
            except BaseException as e:  # handed to the waiting thread
                box.append((False, e))

        hit = threading.Event()

        def on_sigint(signum: int, frame: Any) -> None:
            hit.set()
            self.con.interrupt()

        old: Any = None
        if threading.current_thread() is threading.main_thread():
            old = signal.getsignal(signal.SIGINT)
            if old is signal.SIG_IGN:  # e.g. a background job: Ctrl-C is not ours
                old = None
            else:
                signal.signal(signal.SIGINT, on_sigint)
        worker = threading.Thread(target=run, name="segql-query", daemon=True)
        expired = False
        try:
            worker.start()
            worker.join(limit)
            if worker.is_alive():
                expired = True
                self.con.interrupt()
                worker.join()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        if hit.is_set():
            raise _interrupted()
        ok, value = box.pop()
        if ok:
            return cast(T, value)
        error = self._failure(value, limit if expired else None)
        del value  # DuckDB's exception holds the failed result; the connection needs it gone
        raise error from None

    def _failure(self, e: BaseException, expired: float | None) -> BaseException:
        import duckdb

        if isinstance(e, duckdb.InterruptException):
            if expired is not None:
                return EngineError(
                    Diagnostic(
                        code="timeout",
                        message=f"the query ran longer than the timeout ({expired:g} s) and "
                        "was stopped",
                        hints=("raise the timeout (--timeout SECONDS) or narrow the segment",),
                    )
                )
            return _interrupted()
        if isinstance(e, duckdb.PermissionException):
            return EngineError(
                Diagnostic(
                    code="file-not-allowed",
                    message=f"DuckDB may not read this: {_first(e)}",
                    hints=(
                        "segql reads files only through `file:` sources under the allowed "
                        "folders: " + ", ".join(f"`{r}`" for r in self._roots or ()),
                    ),
                )
            )
        if isinstance(e, duckdb.Error):
            hints: tuple[str, ...] = ()
            if isinstance(e, duckdb.ConversionException | duckdb.BinderException):
                hints = ("check that the column types in the database match the schema",)
            return EngineError(
                Diagnostic(
                    code="engine",
                    message=f"DuckDB could not run the segment: {_first(e)}",
                    hints=hints,
                )
            )
        if isinstance(e, RuntimeError) and "interrupt" in str(e).lower():
            return _interrupted()
        return e

    def _text(self, query: Any) -> str:
        return str(query.sql(dialect="duckdb", copy=False))  # the tree is built per call

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
        q = exp.select(exp.Count(this=exp.Star())).from_(inner.subquery("m"))
        text = self._text(q)
        rows = self._call(lambda: self.con.execute(text).fetchall(), timeout)
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

        def fetch() -> list[Any]:
            cur = self.con.execute(text)
            name, kind = cur.description[0][:2]
            if str(kind) in _INTEGER_TYPES and _has_numpy():
                # Integer keys through numpy: ~15% faster than row tuples for large segments.
                ids: list[Any] = cur.fetchnumpy()[name].tolist()
                return ids
            return [r[0] for r in cur.fetchall()]

        return self._call(fetch, timeout)

    def members(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        fields: Iterable[str] = (),
        timeout: float | None = None,
    ) -> Any:
        """Members with the chosen profile fields and traits, as a pyarrow Table."""
        text = self._text(self._query(source, schema, as_of, tuple(fields)))
        return self._call(lambda: self.con.sql(text).to_arrow_table(), timeout)

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
    ) -> int:
        """Write the members (key, then ``fields``) to a file or a binary stream with
        DuckDB's own writer; returns the number of rows. A file appears complete or not
        at all. CSV and JSON Lines hold standard values: ``true``/``false``, ISO 8601
        dates and UTC timestamps (``2026-06-01T12:00:00Z``), lists as JSON arrays (in CSV,
        a JSON array in one cell); JSON numbers for decimals. Parquet keeps the types
        (timestamps as UTC instants)."""
        fmt = ExportFormat(format)
        names = tuple(fields)
        inner = self._query(source, schema, as_of, names)
        types = [self._key_type(schema), *(v.type for _, v in self._values(schema, names))]
        columns = [schema.entity.key, *(n for n in names if n != schema.entity.key)]
        query = _export_select(inner, columns, types, fmt)
        if isinstance(target, str | Path):
            with _atomic_target(Path(target)) as tmp:
                return self._copy(query, fmt, tmp, timeout)
        with tempfile.TemporaryDirectory(prefix="segql-out-") as d:
            tmp = Path(d) / f"members.{fmt.value}"
            n = self._copy(query, fmt, tmp, timeout)
            with open(tmp, "rb") as f:
                shutil.copyfileobj(f, target, 1 << 20)
            return n

    def _key_type(self, schema: Schema) -> Type:
        fd = schema.entity.fields.get(schema.entity.key)
        return fd.type if fd is not None else Type.INTEGER

    def _copy(self, query: Any, fmt: ExportFormat, path: Path, timeout: float | None) -> int:
        """COPY into ``path`` (through the private export folder on a locked connection)."""
        from sqlglot import exp

        staged = path
        if self._locked:
            assert self._export_dir is not None
            staged = self._export_dir / f"{os.getpid()}-{threading.get_ident()}.{fmt.value}"
        by_format: dict[ExportFormat, list[tuple[str, Any]]] = {
            ExportFormat.CSV: [("FORMAT", exp.var("CSV")), ("HEADER", exp.true())],
            ExportFormat.JSONL: [("FORMAT", exp.var("JSON"))],
            ExportFormat.PARQUET: [("FORMAT", exp.var("PARQUET"))],
        }
        params = by_format[fmt]
        copy = exp.Copy(
            this=exp.Subquery(this=query),
            kind=False,
            files=[exp.Literal.string(str(staged))],
            params=[exp.CopyParameter(this=exp.var(k), expression=v) for k, v in params],
        )
        try:
            text = self._text(copy)
            rows = self._call(lambda: self.con.execute(text).fetchall(), timeout)
            if staged != path:
                shutil.move(staged, path)
        finally:
            if staged != path:
                with contextlib.suppress(OSError):
                    staged.unlink()
        return int(rows[0][0]) if rows else 0

    # --- schema validation -------------------------------------------------------------
    def _sources(self, schema: Schema) -> list[Source]:
        return [schema.entity.source, *(s.source for s in schema.streams.values())]

    def _relations(self) -> dict[str, str]:
        """Tables and views of the database (registered frames included), by name."""
        rows = self.con.execute(
            "SELECT table_name, table_type FROM information_schema.tables"
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def _columns(self, src: Source, relations: Mapping[str, str]) -> dict[str, str] | None:

        if src.file is not None:
            if not src.file.exists():
                return None
            query = f"DESCRIBE SELECT * FROM {_reader(src.file)}(?)"
            params: list[Any] = [str(src.file)]
        else:
            assert src.table is not None
            # Only a real table or view: DuckDB would otherwise read a file or URL of
            # that name (a replacement scan).
            if src.table not in relations:
                return None
            from sqlglot import exp

            ident = exp.to_identifier(src.table, quoted=True).sql(dialect="duckdb")
            query = f"DESCRIBE SELECT * FROM {ident}"
            params = []
        try:
            rows = self._call(lambda: self.con.execute(query, params).fetchall())
        except EngineError as e:
            raise EngineError(
                dataclasses.replace(
                    e.diagnostic, message=f"cannot read `{src.label}`: {e.diagnostic.message}"
                )
            ) from None
        return {r[0]: str(r[1]) for r in rows}

    def validate(self, schema: Schema) -> None:
        """Compare the schema with the real tables; raise with every mismatch found."""
        if self._checked.get(id(schema)) is schema:
            return
        self._check_files(schema)
        self._lock(schema)
        relations = self._relations()
        diags: list[Diagnostic] = []
        entity = schema.entity
        groups: list[tuple[str, Source, Located, list[tuple[str, Located | None]]]] = []
        groups.append(
            (
                "the entity",
                entity.source,
                entity.where,
                [(entity.key, entity.where), *_field_columns(entity.fields)],
            )
        )
        for stream in schema.streams.values():
            cols: list[tuple[str, Located | None]] = [
                (stream.key, stream.where),
                (stream.time, stream.where),
            ]
            cols += _field_columns(stream.fields)
            groups.append((f"stream `{stream.name}`", stream.source, stream.where, cols))
        for what, src, where, cols in groups:
            have = self._columns(src, relations)
            if have is None:
                if src.file is not None:
                    diags.append(
                        _diag(
                            "missing-table",
                            f"file `{src.file}` of {what} does not exist",
                            where,
                        )
                    )
                else:
                    tables = sorted(relations)
                    hints = [
                        f"did you mean `{h}`?"
                        for h in difflib.get_close_matches(src.label, tables, n=1)
                    ]
                    if not tables:
                        hints.append("the database has no tables; is --db the right file?")
                    if "/" in src.label or "." in src.label:
                        hints.append("`table:` names a table or view; use `file:` for a file")
                    diags.append(
                        _diag(
                            "missing-table",
                            f"table `{src.label}` of {what} does not exist",
                            where,
                            *hints,
                        )
                    )
                continue
            for col, loc in cols:
                if col in have:
                    continue
                near = difflib.get_close_matches(col, have, n=1)
                diags.append(
                    _diag(
                        "missing-column",
                        f"table `{src.label}` has no column `{col}`",
                        loc,
                        *((f"did you mean `{near[0]}`?",) if near else ()),
                        "columns: " + ", ".join(sorted(have)[:20]),
                    )
                )
        if diags:
            raise EngineError(diags)
        self._checked[id(schema)] = schema

    def _check_files(self, schema: Schema) -> None:
        """Every ``file:`` source lies under the allowed roots."""
        if not self._own:
            return
        roots = self._roots if self._locked else self._allowed_roots(schema)
        assert roots is not None
        diags = []
        owners = [("the entity", schema.entity.source, schema.entity.where)]
        owners += [(f"stream `{s.name}`", s.source, s.where) for s in schema.streams.values()]
        for what, src, where in owners:
            if src.file is not None and not _inside(src.file.resolve(), roots):
                diags.append(
                    _diag(
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


def _first(e: BaseException) -> str:
    lines = str(e).splitlines()
    return lines[0] if lines else type(e).__name__


def _interrupted() -> Interrupted:
    return Interrupted(Diagnostic(code="interrupted", message="the query was interrupted"))


def _field_columns(fields: Mapping[str, FieldDef]) -> list[tuple[str, Located | None]]:
    return [(f.column, f.where) for f in fields.values()]


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
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


def _export_select(inner: Any, columns: list[str], types: list[Type], fmt: ExportFormat) -> Any:
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
