"""`segql demo`: the example shop, end to end, with zero set-up.

Generates the deterministic example data on first use (into a cache directory, next to a
copy of the schema and catalog from ``examples/shop``), runs every catalog segment on the
embedded DuckDB, prints a table, shows one segment's SQL for two dialects, and says how
to open the REPL on the same data.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ..schema import Schema

__all__ = ["demo_files", "prepare", "run_demo"]

AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
FILES = ("schema.yaml", "segments.yaml")
SHOWN_SEGMENT = "cart_abandoners"


def demo_files() -> dict[str, str]:
    """The bundled schema and catalog texts: packaged copies first, then the checkout's."""
    out: dict[str, str] = {}
    packaged = resources.files("segql.demo").joinpath("files")
    source = Path(__file__).resolve().parents[2] / "examples" / "shop"
    for name in FILES:
        res = packaged.joinpath(name)
        if res.is_file():
            out[name] = res.read_text(encoding="utf-8")
        else:
            out[name] = (source / name).read_text(encoding="utf-8")
    return out


def prepare(cache_dir: Path | None = None) -> Path:
    """The demo directory: generated data plus the schema and catalog beside it."""
    from .generate import ensure_demo_data

    target = ensure_demo_data(cache_dir)
    for name, text in demo_files().items():
        path = target / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    return target


def run_demo(out: IO[str] | None = None, cache_dir: Path | None = None) -> int:
    from ..config import load_schema
    from ..engine import Database
    from ..sql import to_sql

    out = out or sys.stdout
    start = time.perf_counter()
    print("segql demo — a small online shop", file=out)
    folder = prepare(cache_dir)
    took = time.perf_counter() - start
    print(f"data: {folder}  (ready in {took:.1f}s)", file=out)
    schema_path = folder / "schema.yaml"
    catalog_path = folder / "segments.yaml"
    schema = load_schema(schema_path, catalogs=[catalog_path])
    print(f"as of {AS_OF:%Y-%m-%d %H:%M} UTC\n", file=out)
    rows: list[tuple[str, int, str]] = []
    with Database() as db:
        total = db.count("true", schema, as_of=AS_OF)
        for name, seg in schema.segments.items():
            n = db.count(schema.segments_ir[name], schema, as_of=AS_OF)
            rows.append((name, n, seg.description or ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'segment':<{width}}  {'members':>8}  {'share':>6}  description", file=out)
    print(f"{'-' * width}  {'-' * 8}  {'-' * 6}  {'-' * 11}", file=out)
    for name, n, desc in rows:
        share = 100.0 * n / total if total else 0.0
        print(f"{name:<{width}}  {n:>8,}  {share:>5.1f}%  {desc}", file=out)
    print(f"\n{total:,} contacts in all.\n", file=out)
    shown = SHOWN_SEGMENT if SHOWN_SEGMENT in schema.segments else next(iter(schema.segments))
    seg = schema.segments[shown]
    print(f"Segment `{shown}`:\n", file=out)
    for line in seg.text.strip().splitlines():
        print(f"    {line}", file=out)
    warehouse = _warehouse_schema(schema)
    for dialect in ("postgres", "bigquery"):
        label = "supported" if dialect == "postgres" else "experimental"
        print(f"\nas {dialect} SQL ({label}):\n", file=out)
        print(to_sql(seg.text, warehouse, dialect=dialect, as_of=AS_OF), file=out)
    print(
        "\nExplore the same data interactively:\n\n"
        f"    segql repl --schema {schema_path} --catalog {catalog_path}\n\n"
        "or count any segment:\n\n"
        f"    segql count 'purchases >= 3 and last_order > 90d' --schema {schema_path} "
        f"--as-of {AS_OF:%Y-%m-%d}",
        file=out,
    )
    return 0


def _warehouse_schema(schema: Schema) -> Schema:
    """The same schema with table names instead of files, as it would be in a warehouse."""
    import dataclasses

    from ..schema import Source

    def table(src: Source) -> Source:
        return Source(table=src.file.stem) if src.file is not None else src

    return dataclasses.replace(
        schema,
        entity=dataclasses.replace(schema.entity, source=table(schema.entity.source)),
        streams={
            n: dataclasses.replace(s, source=table(s.source)) for n, s in schema.streams.items()
        },
    )
