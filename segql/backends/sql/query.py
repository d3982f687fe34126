"""The SQL back end's entry points: one typed segment to a sqlglot ``Select`` or SQL text."""

import datetime as dt
from typing import Any

from segql.backends.sql.compiler import Compiler
from segql.backends.sql.dialects import Profile, profile_for
from segql.backends.sql.plan import SqlOptions, refuse
from segql.core.diagnostics import NO_SPAN, CheckError, Diagnostic
from segql.core.schema import Schema
from segql.core.text import unsafe_char
from segql.ir import dag, timecalc
from segql.ir import nodes as ir


def to_sql(
    texpr: ir.TExpr,
    schema: Schema,
    *,
    dialect: str = "duckdb",
    as_of: dt.datetime | dt.date | None = None,
    pretty: bool = True,
) -> str:
    """One SQL ``SELECT`` returning the key of every member once (column named as the key),
    for a checked (and usually optimized) typed tree: :func:`segql.pipeline.to_sql` takes
    text."""
    profile = profile_for(dialect)
    if profile is None:
        raise CheckError(
            Diagnostic(
                code="unknown-dialect",
                message=f"unknown SQL dialect `{dialect}`",
                hints=(
                    "supported: duckdb, postgres, sqlite, spark, clickhouse (others: experimental)",
                ),
            )
        )
    compiler = make_compiler(schema, profile, as_of, None)
    query = compile_query(compiler, texpr)
    with dag.guard("the SQL of this segment"):
        sql = _file_note(compiler.file_tables) + render(query, profile, pretty=pretty)
    bad = unsafe_char(sql)  # the note quotes file paths
    if bad is not None:
        raise refuse("invalid-character", f"the SQL would contain {bad}", NO_SPAN)
    return sql


def _file_note(tables: dict[str, str]) -> str:
    """A leading comment naming the tables that stand for ``file:`` sources (built from
    quoted identifiers; ``*/`` cannot occur in the comment)."""
    if not tables:
        return ""
    names = ", ".join(f"{t} = {f}" for t, f in sorted(tables.items()))
    text = f"segql: file sources are read as tables named after their files: {names}"
    return "/* " + text.replace("*/", "* /") + " */\n"


def render(query: Any, profile: Profile, *, pretty: bool = True) -> str:
    """Print a query; a construct sqlglot cannot express in the dialect is refused."""
    from sqlglot.errors import ErrorLevel, UnsupportedError

    try:
        sql = str(
            query.sql(
                dialect=profile.sqlglot_name,
                copy=False,  # the tree is ours and used once
                pretty=pretty,
                comments=False,  # segql's trees carry none; skipping the lookups is ~6%
                unsupported_level=ErrorLevel.RAISE,
            )
        )
    except UnsupportedError as e:
        raise CheckError(
            Diagnostic(
                code="unsupported-construct",
                message=f"this segment cannot be written in {profile.name} SQL: "
                f"{str(e).splitlines()[0]}",
                hints=("supported dialects: duckdb, postgres, sqlite, spark, clickhouse",),
            )
        ) from None
    # Names and strings are refused where they enter (checker, `ident`, `lit`); this is
    # the last line: no SQL with a NUL or a lone surrogate ever leaves segql.
    bad = unsafe_char(sql)
    if bad is not None:
        raise refuse("invalid-character", f"the SQL would contain {bad}", NO_SPAN)
    return sql


def build_query(
    texpr: ir.TExpr,
    schema: Schema,
    *,
    profile: Profile,
    as_of: dt.datetime | dt.date | None = None,
    options: SqlOptions | None = None,
) -> Any:
    """The sqlglot ``Select`` for a checked typed tree."""
    return compile_query(make_compiler(schema, profile, as_of, options), texpr)


def compile_query(compiler: Compiler, texpr: ir.TExpr) -> Any:
    with dag.guard("the SQL of this segment"):
        return compiler.query(texpr)


def make_compiler(
    schema: Schema,
    profile: Profile,
    as_of: dt.datetime | dt.date | None,
    options: SqlOptions | None,
) -> Compiler:
    return Compiler(schema, profile, timecalc.normalize_as_of(as_of), options or SqlOptions())
