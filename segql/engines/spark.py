"""Apache Spark: a local session (``spark:local[2]``), Spark Connect (``sc://host:port``)
or a ``SparkSession`` passed in (``pip install 'segql[spark]'``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from segql.core.diagnostics import EngineError
from segql.engines.base import BATCH, Adapter, engine_error


class Spark(Adapter):
    title = "Spark"
    dialect = "spark"

    def __init__(self, master: str | None = None, *, session: Any = None) -> None:
        if session is None:
            from segql.engines.url import need

            need("pyspark", "spark")
            from pyspark.sql import SparkSession

            builder: Any = SparkSession.builder
            if master is not None and master.startswith("sc://"):
                need("grpc", "spark")  # Spark Connect's client transport
                # Spark Connect's own builder: a client, also in a process that already
                # runs a local session (the generic builder refuses that)
                from pyspark.sql.connect.session import SparkSession as RemoteSession

                builder = RemoteSession.builder.remote(master)
            else:
                import tempfile

                # A local session keeps its (empty) warehouse out of the current folder.
                warehouse = tempfile.mkdtemp(prefix="segql-spark-")
                builder = (
                    builder.master(master or "local[2]")
                    .config("spark.sql.warehouse.dir", warehouse)
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.shuffle.partitions", "4")
                )
            import warnings

            with warnings.catch_warnings():  # pyspark's note on pandas 3, which segql does not use
                warnings.simplefilter("ignore", FutureWarning)
                session = builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()
            if not (master or "").startswith("sc://"):
                session.sparkContext.setLogLevel("ERROR")
        else:
            session.conf.set("spark.sql.session.timeZone", "UTC")
        self.spark = session
        # a session whose executors run here (`local[N]`), so they see this machine's
        # files: not a Spark Connect client, nor a driver of a cluster (`spark://…`)
        self.local = type(session).__module__.startswith("pyspark.sql.session") and str(
            session.sparkContext.master
        ).startswith("local")

    file_hints = (
        "a local session (spark:local[N]) reads Parquet files in place; load CSV files "
        "into tables, and on a cluster name tables its catalog holds",
    )

    def file_source(self, path: Path) -> Any | None:
        # Only a local session sees this machine's files, and Spark reads Parquet files
        # with their types (a CSV file's would be guessed).
        if not self.local or path.suffix.lower() not in (".parquet", ".pq"):
            return None
        from sqlglot import exp

        where = exp.to_identifier(str(path.resolve()), quoted=True)
        return exp.Table(this=where, db=exp.to_identifier("parquet"))

    def file_columns(self, path: Path) -> dict[str, str] | None:
        if not path.is_file():
            return None
        fields = self.spark.read.parquet(str(path.resolve())).schema.fields
        return {f.name: f.dataType.simpleString() for f in fields}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def batches(self, sql: str, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        batch: list[tuple[Any, ...]] = []
        for r in self.spark.sql(sql).toLocalIterator():
            batch.append(tuple(r))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def relations(self) -> set[str]:
        current = self.spark.catalog.currentDatabase()
        out: set[str] = set()
        for db in self.spark.catalog.listDatabases():
            for t in self.spark.catalog.listTables(db.name):
                out.add(f"{db.name}.{t.name}")
                if db.name == current:
                    out.add(t.name)
        for t in self.spark.catalog.listTables():
            if t.isTemporary:
                out.add(t.name)
        return out

    def columns(self, table: str) -> dict[str, str] | None:
        try:
            fields = self.spark.table(table).schema.fields
        except Exception:  # no such table
            return None
        return {f.name: f.dataType.simpleString() for f in fields}

    def interrupt(self) -> None:
        try:
            self.spark.sparkContext.cancelAllJobs()
        except Exception:  # Spark Connect has no SparkContext
            self.spark.interruptAll()

    def close(self) -> None:
        pass  # the session may be shared: the caller stops it

    def failure(self, e: BaseException) -> EngineError | None:
        name = type(e).__module__
        if name.startswith(("pyspark", "py4j")):
            return engine_error(self.title, e)
        return None
