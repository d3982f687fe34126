"""PostgreSQL through psycopg 3 (``pip install 'segql[postgres]'``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from segql.core.diagnostics import EngineError
from segql.core.types import Type
from segql.engines.base import BATCH, Adapter, engine_error, mapping_relations


class Postgres(Adapter):
    title = "PostgreSQL"
    dialect = "postgres"

    def __init__(
        self, url: str | None = None, *, connection: Any = None, write: bool = False
    ) -> None:
        self.write = write
        if connection is None:
            from segql.engines.url import need

            psycopg = need("psycopg", "postgres")
            try:
                connection = psycopg.connect(url, autocommit=True)
            except psycopg.Error as e:
                raise engine_error("PostgreSQL", e) from None
        self.con = connection
        # segql only reads (but for a snapshot's own transaction, when opened to write);
        # times are UTC (CONTRACT §3.5).
        self.con.execute("SET TimeZone TO 'UTC'")
        self.con.execute("SET default_transaction_read_only TO on")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(sql.encode())
            return list(cur.fetchall())

    def batches(self, sql: str, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        # A server-side cursor: rows arrive `size` at a time, never all at once.
        with self.con.transaction(), self.con.cursor(name="segql_export") as cur:
            cur.itersize = size
            cur.execute(sql.encode())
            while rows := cur.fetchmany(size):
                yield list(rows)

    def relations(self) -> set[str]:
        rows = self.rows(
            "SELECT table_schema, table_name, table_schema = ANY(current_schemas(false)) "
            "FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        return mapping_relations(rows)

    def columns(self, table: str) -> dict[str, str] | None:
        parts = table.split(".")
        if len(parts) == 1:
            where = "table_schema = ANY(current_schemas(false)) AND table_name = %s"
            params: tuple[str, ...] = (parts[0],)
        else:
            where = "table_schema = %s AND table_name = %s"
            params = (parts[-2], parts[-1])
        with self.con.cursor() as cur:
            cur.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE " + where,
                params,
            )
            found = {r[0]: r[1] for r in cur.fetchall()}
        return found or None

    def copy_csv(
        self, query: Any, columns: list[str], types: list[Type], out: IO[bytes]
    ) -> int | None:
        """``COPY (…) TO STDOUT`` with each value in DuckDB's export form, streamed."""
        from sqlglot import exp

        def form(name: str, t: Type) -> Any:
            col = exp.Column(this=exp.to_identifier(name, quoted=True))
            if t is Type.TIMESTAMP:
                micros = exp.Anonymous(
                    this="date_part", expressions=[exp.Literal.string("microseconds"), col]
                )
                whole = exp.EQ(
                    this=exp.Mod(
                        this=exp.cast(micros, "BIGINT"), expression=exp.Literal.number(1_000_000)
                    ),
                    expression=exp.Literal.number(0),
                )

                def text(pattern: str) -> Any:
                    return exp.Anonymous(
                        this="to_char", expressions=[col.copy(), exp.Literal.string(pattern)]
                    )

                return exp.Case(
                    ifs=[exp.If(this=whole, true=text('YYYY-MM-DD"T"HH24:MI:SS"Z"'))],
                    default=text('YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                )
            if t is Type.BOOLEAN:
                return exp.Case(
                    ifs=[
                        exp.If(this=col, true=exp.Literal.string("true")),
                        exp.If(this=exp.Not(this=col.copy()), true=exp.Literal.string("false")),
                    ]
                )
            if t.is_list:
                return exp.cast(exp.Anonymous(this="array_to_json", expressions=[col]), "TEXT")
            return col

        select = exp.select(
            *(exp.alias_(form(n, t), n, quoted=True) for n, t in zip(columns, types, strict=True))
        ).from_(query.subquery("m"))
        sql = select.sql(dialect="postgres")
        with self.con.cursor() as cur:
            with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
                for chunk in copy:
                    out.write(chunk)
            return int(cur.rowcount)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Callable[[str], list[Any]]]:
        self.writable("PostgreSQL connection")

        def run(sql: str) -> list[Any]:
            with self.con.cursor() as cur:
                cur.execute(sql.encode())
                return list(cur.fetchall()) if cur.description is not None else []

        with self.con.transaction():
            self.con.execute("SET TRANSACTION READ WRITE")
            yield run

    def lock(self, table: str) -> str | None:
        # Self-conflicting, and readers still read: two snapshots into one table queue.
        return f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"

    def interrupt(self) -> None:
        self.con.cancel()

    def close(self) -> None:
        self.con.close()

    def failure(self, e: BaseException) -> EngineError | None:
        import psycopg

        if isinstance(e, psycopg.errors.QueryCanceled):
            from segql.core.diagnostics import Diagnostic, Interrupted

            return Interrupted(Diagnostic(code="interrupted", message="the query was interrupted"))
        if isinstance(e, psycopg.Error):
            return engine_error(self.title, e)
        return None
