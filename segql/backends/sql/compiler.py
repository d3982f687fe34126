"""Compiling typed segments to SQL (CONTRACT §4.2–4.4), bottom-up to sqlglot nodes.

The query shape:

    WITH "segql_orders" AS (        -- one pass per event stream, all its aggregates at once
      SELECT e."contact_id" AS "k", COUNT(CASE WHEN … THEN 1 END) AS "a0", …
      FROM "orders" AS e WHERE e."ordered_at" <= <as_of> [AND <stream filter>]
      GROUP BY e."contact_id"),
    "segql_p0" AS (…),              -- one window per different percentile / top … by
    "segql_s0" AS MATERIALIZED (…)  -- shared subexpressions too large to write out each time
    SELECT c."id" FROM "contacts" AS c LEFT JOIN "segql_orders" AS … WHERE <condition>

User text never becomes SQL text: names become quoted identifiers and values literals,
all through sqlglot. Relative times are resolved in Python against ``as_of``.

The typed tree is a DAG (trait and segment bodies are shared): equal aggregates share a
pass column, equal rankings a window, and a shared subexpression whose copies would add
more than ``HOIST_SIZE`` nodes, or that nests deeper than ``HOIST_DEPTH``, is computed
once per contact in its own CTE (docs/performance.md, "Shared subexpressions"), so the SQL
grows linearly with the DAG and its depth stays within what sqlglot can print.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, assert_never, cast

from segql.backends.sql.dialects import Profile, profile_for
from segql.checker.checker import unsafe_char
from segql.core.diagnostics import NO_SPAN, CheckError, Diagnostic, SegqlError, Span, with_source
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import Schema, Source
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.lang import ast
from segql.lang.ast import COMPARE, FLIPPED, ArithOp, BoolOpKind, CmpOp
from segql.optimize.optimizer import optimize

__all__ = ["HOIST_DEPTH", "HOIST_SIZE", "SqlOptions", "build_query", "render", "to_sql"]

HOIST_SIZE = 256
"""A shared subexpression gets its own CTE when writing out its copies would add more
than this many nodes (copies beyond the first × nodes of one copy)."""
HOIST_DEPTH = 64
"""…or when it nests more than this many levels: a CTE cuts the depth sqlglot prints."""
SQLITE_HOIST_DEPTH = 16
"""SQLite's parser has a fixed stack of 100 states: about 45 levels of one expression."""
SQL_BUDGET = 20_000
"""If the SQL would still hold more nodes than this, every shared subexpression gets a CTE."""

# Dialects whose planners would otherwise inline a shared CTE into each use, writing the
# shared expression out again (SQLite took 4.6 s to plan 20 doubled traits): their shared
# CTEs are `MATERIALIZED` (SQLite 3.35+, PostgreSQL 12+). Experimental dialects get plain CTEs.
_MATERIALIZING = frozenset({"duckdb", "postgres", "sqlite"})

ENTITY = "c"
EVENT = "e"


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlOptions:
    """``sources`` overrides how a table name is read (the DuckDB engine passes
    ``read_parquet(...)`` expressions for ``file:`` sources)."""

    sources: dict[str, Any] = field(default_factory=dict)
    # Values returned beside the key (engine `members`): output name and typed value.
    select: tuple[tuple[str, ir.TExpr], ...] = ()


def _refuse(code: str, message: str, span: Span, *hints: str) -> CheckError:
    return CheckError(Diagnostic(code=code, message=message, span=span, hints=hints))


def to_sql(
    source: str | ast.Expr | ir.TExpr,
    schema: Schema,
    *,
    dialect: str = "duckdb",
    as_of: dt.datetime | dt.date | None = None,
    pretty: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> str:
    """One SQL ``SELECT`` returning the key of every member once (column named as the key)."""
    profile = profile_for(dialect)
    if profile is None:
        raise CheckError(
            Diagnostic(
                code="unknown-dialect",
                message=f"unknown SQL dialect `{dialect}`",
                hints=("supported: duckdb, postgres, sqlite; others are experimental",),
            )
        )
    compiler = _compiler(schema, profile, as_of, None)
    query = _compile(compiler, source, schema, limits)
    with dag.guard("the SQL of this segment"):
        sql = _file_note(compiler.file_tables) + render(query, profile, pretty=pretty)
    bad = unsafe_char(sql)  # the note quotes file paths
    if bad is not None:
        raise _refuse("invalid-character", f"the SQL would contain {bad}", NO_SPAN)
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
                unsupported_level=ErrorLevel.RAISE,
            )
        )
    except UnsupportedError as e:
        raise CheckError(
            Diagnostic(
                code="unsupported-construct",
                message=f"this segment cannot be written in {profile.name} SQL: "
                f"{str(e).splitlines()[0]}",
                hints=("supported dialects: duckdb, postgres, sqlite",),
            )
        ) from None
    # Names and strings are refused where they enter (checker, `ident`, `lit`); this is
    # the last line: no SQL with a NUL or a lone surrogate ever leaves segql.
    bad = unsafe_char(sql)
    if bad is not None:
        raise _refuse("invalid-character", f"the SQL would contain {bad}", NO_SPAN)
    return sql


def build_query(
    source: str | ast.Expr | ir.TExpr,
    schema: Schema,
    *,
    profile: Profile,
    as_of: dt.datetime | dt.date | None = None,
    options: SqlOptions | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """The sqlglot ``Select`` for a segment. A typed tree is held to ``limits`` as text
    is (:class:`~segql.diagnostics.LimitError`)."""
    return _compile(_compiler(schema, profile, as_of, options), source, schema, limits)


def _prepare(source: str | ast.Expr | ir.TExpr, schema: Schema, limits: Limits) -> ir.TExpr:
    from segql.checker.checker import typed

    if ir.is_node(source):
        texpr = cast(ir.TExpr, source)
        dag.enforce(texpr, limits, traits=schema.traits_ir)
    else:  # text, or a syntax tree from segql.parse
        texpr = typed(cast(str | ast.Expr, source), schema, limits=limits)
    return optimize(texpr)


def _compile(
    compiler: _Compiler, source: str | ast.Expr | ir.TExpr, schema: Schema, limits: Limits
) -> Any:
    """The query; errors found while compiling (a time out of range) show the expression."""
    texpr = _prepare(source, schema, limits)
    try:
        with dag.guard("the SQL of this segment"):
            return compiler.query(texpr)
    except SegqlError as e:
        if not isinstance(source, str):
            raise
        raise type(e)(with_source(e.diagnostics, source)) from None


def _compiler(
    schema: Schema,
    profile: Profile,
    as_of: dt.datetime | dt.date | None,
    options: SqlOptions | None,
) -> _Compiler:
    return _Compiler(schema, profile, timecalc.normalize_as_of(as_of), options or SqlOptions())


# Exact decimal arithmetic on literals (a `top` percent has at most 38 digits).
_EXACT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])


def _constant_int(node: ir.TExpr) -> int:
    """The digits of ``round``: an integer literal, perhaps negated (the checker's rule)."""
    match node:
        case ir.Lit(value=int() as v):
            return v
        case ir.Neg(operand=ir.Lit(value=int() as v)):
            return -v
    raise _refuse(
        "wrong-arguments", "the number of digits for `round` must be a whole number", node.span
    )


def _distinct_conds(aggs: list[_PassAgg]) -> list[_PassAgg]:
    """One aggregate per distinct condition (for the pass's ``OR`` of them)."""
    seen: dict[Any, _PassAgg] = {}
    for a in aggs:
        seen.setdefault(a.cond_key, a)
    return list(seen.values())


_ZERO_WHEN_EMPTY = (ir.AggFunc.COUNT, ir.AggFunc.COUNT_DISTINCT, ir.AggFunc.SUM)
_CMP = COMPARE
_FLIP = FLIPPED


def _required_streams(texpr: ir.TExpr) -> frozenset[str]:
    """Streams without whose events the whole condition cannot be true.

    A top-level conjunct that is false or unknown when a stream's aggregates take their
    empty values (count and sum 0, the others null, ``has`` false) makes that stream
    required, so its pass can be inner-joined."""
    parts = (
        texpr.operands if isinstance(texpr, ir.BoolOp) and texpr.op is BoolOpKind.AND else (texpr,)
    )
    out: set[str] = set()

    def null_when_empty(x: ir.TExpr) -> str | None:
        if isinstance(x, ir.Agg) and x.func not in _ZERO_WHEN_EMPTY:
            return x.stream
        return None

    for c in parts:
        match c:
            case ir.Compare(op=op, left=x, right=y):
                for agg, other, o in ((x, y, op), (y, x, _FLIP[op])):
                    found = null_when_empty(agg)
                    if found is not None:
                        out.add(found)
                    elif (
                        isinstance(agg, ir.Agg)
                        and isinstance(other, ir.Lit)
                        and other.value is not None
                        and not _CMP[o](0, other.value)
                    ):
                        out.add(agg.stream)
            case ir.Between(operand=x) | ir.Within(operand=x):
                found = null_when_empty(x)
                if found is not None:
                    out.add(found)
            case ir.IsNull(operand=x, negated=True):
                found = null_when_empty(x)
                if found is not None:
                    out.add(found)
    return frozenset(out)


_HEAVY = (ir.Agg, ir.Exists, ir.Percentile, ir.TopPercent, ir.EventField)


def _profile_only(node: ir.TExpr) -> bool:
    """Reads only profile fields (no events, no population)."""
    return not any(isinstance(n, _HEAVY) for n in ir.walk(node))


def _entity_only_conjuncts(texpr: ir.TExpr) -> list[ir.TExpr]:
    """Top-level conjuncts that read only profile fields."""
    parts = (
        texpr.operands if isinstance(texpr, ir.BoolOp) and texpr.op is BoolOpKind.AND else (texpr,)
    )
    return [c for c in parts if _profile_only(c)]


_LEAVES = (ir.Lit, ir.Field, ir.EventField, ir.Now, ir.Today, ir.Ago)
_COLUMNS = (ir.Agg, ir.Percentile, ir.TopPercent)  # already one column of a shared CTE


def _shared_ctes(roots: list[ir.TExpr], max_depth: int) -> list[ir.TExpr]:
    """The contact-level subexpressions of ``roots`` (the condition, and the values
    returned beside the key) to compute once each in a CTE, dependencies first.

    1. Bottom-up over the DAG, a node is hoisted when it occurs more than once in the tree
       written out and its copies beyond the first would add more than ``HOIST_SIZE``
       nodes; a hoisted node then counts as one node (a column) in its parents.
    2. Counting again how often each node is written, now that hoisted nodes are written
       once: a node written once needs no CTE of its own. A node nesting deeper than
       ``max_depth`` is hoisted too (the depth restarts at its column).
    3. If the SQL would still exceed ``SQL_BUDGET`` nodes, the same with every shared node.

    Ordinary segments have no such node: their SQL does not change. Event conditions are
    never hoisted (they are about one event, and the expression limits bound them)."""
    # Several roots are analysed as the operands of one (never hoisted) node.
    texpr = roots[0] if len(roots) == 1 else ir.BoolOp(op=BoolOpKind.AND, operands=tuple(roots))
    sc = dag.scan(texpr)
    if not sc.shared and sc.depth[id(texpr)] <= max_depth:
        return []  # the common case: nothing shared, nothing deep
    order = sc.order
    contact: set[int] = set()
    stack = [texpr]
    while stack:
        n = stack.pop()
        if id(n) not in contact:
            contact.add(id(n))
            if not isinstance(n, ir.Agg | ir.Exists):
                stack.extend(ir.children(n))
    inline = [n for n in order if id(n) in contact and not isinstance(n, ir.Agg | ir.Exists)]
    hoistable = {id(n) for n in inline if not isinstance(n, (*_LEAVES, *_COLUMNS))}
    hoistable.discard(id(texpr) if len(roots) > 1 else -1)
    cap = 1 << 62

    def written(hoisted: set[int]) -> dict[int, int]:
        """How often each node is written, a hoisted one's body once."""
        occ = {id(texpr): 1}
        for n in reversed(inline):
            k = 1 if id(n) in hoisted else occ.get(id(n), 0)
            for c in ir.children(n):
                occ[id(c)] = min(cap, occ.get(id(c), 0) + k)
        return occ

    def sizes(keep: Callable[[ir.TExpr, int, int], bool]) -> tuple[list[ir.TExpr], int]:
        """Bottom-up sizes and depths; ``keep(node, size, depth)`` decides hoisting."""
        size: dict[int, int] = {}
        depth: dict[int, int] = {}
        hoisted: list[ir.TExpr] = []
        total = 0
        for n in order:
            if isinstance(n, _COLUMNS):
                size[id(n)] = depth[id(n)] = 1
                continue
            kids = ir.children(n)
            size[id(n)] = min(cap, 1 + sum(size[id(c)] for c in kids))
            depth[id(n)] = 1 + max((depth[id(c)] for c in kids), default=0)
            if id(n) in hoistable and keep(n, size[id(n)], depth[id(n)]):
                hoisted.append(n)
                total += size[id(n)]
                size[id(n)] = depth[id(n)] = 1
        return hoisted, total + size[id(texpr)]

    def plan(threshold: int) -> tuple[list[ir.TExpr], int]:
        raw = written(set())
        first, _ = sizes(lambda n, sz, _: (raw[id(n)] - 1) * sz > threshold)
        again = written({id(n) for n in first})
        chosen = {id(n) for n in first if again[id(n)] > 1}
        return sizes(lambda n, _, d: id(n) in chosen or d > max_depth)

    hoisted, total = plan(HOIST_SIZE)
    if total > SQL_BUDGET:
        hoisted, _ = plan(0)
    return hoisted


@dataclass
class _Scope:
    """What one SELECT reads besides the entity: stream passes and other CTEs (windows,
    shared subexpressions), which it must join."""

    streams: set[str] = field(default_factory=set)
    derived: set[str] = field(default_factory=set)


@dataclass
class _Level:
    """The shared subexpressions that read only lower levels: one CTE, a column each."""

    alias: str
    values: list[tuple[str, Any]] = field(default_factory=list)
    scope: _Scope = field(default_factory=_Scope)


@dataclass
class _PassAgg:
    """One aggregate of a stream's pass, built into SQL once the pass is complete."""

    alias: str
    func: ir.AggFunc
    target: Any  # the aggregated column (None for count)
    cond: Any  # the event condition (where/within), or None for every event
    cond_key: tuple[str, ir.Duration | None] | None


@dataclass
class _StreamAggs:
    name: str
    columns: dict[tuple[Any, ...], _PassAgg] = field(default_factory=dict)
    all_windowed: bool = True
    earliest: dt.datetime | None = None

    def alias(self) -> str:
        return f"segql_{self.name}"

    @property
    def windowed(self) -> bool:
        """Every aggregate looks only at a recent window of events."""
        return self.all_windowed and self.earliest is not None


class _Compiler:
    def __init__(self, schema: Schema, profile: Profile, as_of: dt.datetime, options: SqlOptions):
        from sqlglot import exp

        self.exp = exp
        self.schema = schema
        self.p = profile
        self.as_of = as_of
        self.tz = schema.tz
        self.zone = schema.timezone
        self.options = options
        self.streams: dict[str, _StreamAggs] = {}
        # Window and shared CTEs, by alias, with the key that orders them after what they
        # read: (level, 0, 0) for the shared CTE of a level, (level, 1, n) for the n-th window.
        self.derived: dict[str, Any] = {}
        self.order: dict[str, tuple[int, int, int]] = {}
        self.window_aliases: dict[int, str] = {}  # by shape of the ranking
        self.shapes = dag.Shapes()
        self.shared: dict[int, tuple[str, str]] = {}  # id of a hoisted node -> CTE, column
        self.levels: dict[int, _Level] = {}
        self.scope = _Scope()
        self.event_alias = EVENT
        self._exists_count = 0
        # file: sources compiled for a database as tables named after their files
        self.file_tables: dict[str, str] = {}

    # --- helpers ----------------------------------------------------------------------
    def ident(self, name: str) -> Any:
        bad = unsafe_char(name)
        if bad is not None:
            raise _refuse(
                "invalid-character",
                f"the name `{name.encode('unicode_escape').decode('ascii')}` contains {bad}, "
                "which SQL text cannot carry",
                NO_SPAN,
                "rename the table or column in the schema",
            )
        return self.exp.to_identifier(name, quoted=True)

    def col(self, name: str, table: str) -> Any:
        return self.exp.Column(this=self.ident(name), table=self.ident(table))

    def table(self, src: Source, alias: str) -> Any:
        exp = self.exp
        if src.table is not None and src.table in self.options.sources:
            node = self.options.sources[src.table].copy()
        elif src.file is not None and str(src.file) in self.options.sources:
            node = self.options.sources[str(src.file)].copy()
        elif src.table is not None:
            node = exp.Table(this=self.ident(src.table))
        elif src.file is not None and self.p.name == "duckdb":
            reader = "read_csv_auto" if src.file.suffix.lower() == ".csv" else "read_parquet"
            path = self.lit(str(src.file), Type.STRING, NO_SPAN)
            node = exp.Anonymous(this=reader, expressions=[path])
        else:
            assert src.file is not None
            node = exp.Table(this=self.ident(self._file_table(src.file)))
        if not isinstance(node, exp.Table):
            node = exp.Table(this=node)
        node.set("alias", exp.TableAlias(this=self.ident(alias)))
        return node

    def _file_table(self, path: Path) -> str:
        """The table a ``file:`` source stands for in a database: the file's name without
        its suffix (``data/orders.parquet`` -> ``orders``), as a warehouse load names it."""
        name = path.stem
        shown = self.ident(name).sql(dialect=self.p.sqlglot_name)
        other = self.file_tables.get(shown)
        if other is not None and other != path.name:
            raise _refuse(
                "file-source",
                f"two file sources, `{other}` and `{path.name}`, would both be table `{name}` "
                f"in {self.p.name} SQL",
                Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1),
                "give one of them a `table:` naming its table in the database",
            )
        self.file_tables[shown] = path.name
        return name

    def ts(self, value: dt.datetime) -> Any:
        return self.p.timestamp_literal(value)

    def lit(self, value: object, t: Type, span: Span) -> Any:
        exp = self.exp
        if value is None:
            return exp.null()
        if isinstance(value, bool):
            return self.p.true() if value else self.p.false()
        if isinstance(value, int):
            return exp.Literal.number(value)
        if isinstance(value, Decimal):
            return exp.Literal.number(format(value, "f"))
        if isinstance(value, float):
            return exp.Literal.number(repr(value))
        if isinstance(value, str):
            bad = unsafe_char(value)
            if bad is not None:
                raise _refuse(
                    "invalid-character", f"this string contains {bad}, which SQL cannot carry", span
                )
            return exp.Literal.string(value)
        if isinstance(value, dt.datetime):
            return self.ts(value)
        if isinstance(value, dt.date):
            return self.p.date_literal(value)
        raise _refuse("unsupported-construct", f"cannot write {value!r} as SQL", span)

    def typed_col(self, column: str, table: str, t: Type, span: Span) -> Any:
        c = self.col(column, table)
        if t is Type.TIMESTAMP:
            return self.p.timestamp_column(c)
        if t is Type.DATE:
            return self.p.date_column(c)
        if t.is_list and not self.p.lists:
            raise _refuse(
                "unsupported-construct",
                f"list fields cannot be used with {self.p.name}: it has no list type",
                span,
                "use duckdb or postgres, or model the list as an event stream",
            )
        return c

    # --- the query --------------------------------------------------------------------
    def query(self, texpr: ir.TExpr) -> Any:
        exp = self.exp
        main = self.scope
        max_depth = HOIST_DEPTH if self.p.name != "sqlite" else min(HOIST_DEPTH, SQLITE_HOIST_DEPTH)
        roots = [texpr, *(v for _, v in self.options.select)]
        for node in _shared_ctes(roots, max_depth):
            self._hoist(node)
        self.scope = main
        cond = self.expr(texpr, None)
        values = [(name, self.expr(v, None)) for name, v in self.options.select]
        ent = self.schema.entity
        key = ent.key
        select = exp.select(self.col(key, ENTITY), copy=False).from_(
            self.table(ent.source, ENTITY), copy=False
        )
        for name, value in values:
            select = select.select(exp.alias_(value, name, quoted=True, copy=False), copy=False)
        reduce = None if self.derived or self.levels else _entity_only_conjuncts(texpr)
        ctes = self._agg_ctes(reduce)
        select = self._join_aggs(select, inner=_required_streams(texpr), only=main.streams)
        select = self._join_derived(select, main)
        self._fits(select)
        for level in self.levels.values():
            self.derived[level.alias] = self._level_query(level)
        ctes.extend((a, self.derived[a]) for a in sorted(self.derived, key=self.order.__getitem__))
        select = select.where(cond, copy=False)
        fence = True if self.p.name in _MATERIALIZING else None
        shared = {level.alias for level in self.levels.values()}
        for alias, cte in ctes:
            select = select.with_(
                self.ident(alias),
                as_=cte,
                copy=False,
                materialized=fence if alias in shared else None,
            )
        return select

    def _join_derived(self, select: Any, scope: _Scope) -> Any:
        """LEFT JOIN the window and shared CTEs ``scope`` reads, in their order."""
        for alias in sorted(scope.derived, key=self.order.__getitem__):
            select = self._join(select, alias, inner=False)
        return select

    def _fits(self, select: Any) -> None:
        """SQLite joins at most 64 tables in one SELECT."""
        if self.p.name == "sqlite" and len(select.args.get("joins") or ()) >= 64:
            raise _refuse(
                "unsupported-construct",
                "this segment needs more than 64 tables in one join, SQLite's maximum",
                Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1),
                "use duckdb or postgres, or fewer streams, rankings and shared segments",
            )

    def _level(self, scope: _Scope) -> int:
        """1 + the level of the deepest CTE ``scope`` reads (windows sit between levels)."""
        return 1 + max((self.order[a][0] for a in scope.derived), default=0)

    def _fresh(self, alias: str) -> str:
        """``alias``, unless a stream's pass is called so (a stream named `p0`)."""
        taken = {f"segql_{name}" for name in self.schema.streams}
        while alias in taken:
            alias += "_"
        return alias

    def _hoist(self, node: ir.TExpr) -> None:
        """Compute a shared subexpression once per contact, as a column ``vN`` of the CTE
        ``segql_sL(k, v0, v1, …)`` of its level: one CTE for all the shared
        subexpressions that read only lower levels, so a query joins one CTE per level."""
        self.scope = scope = _Scope()
        value = self.expr(node, None)
        level = self._level(scope)
        group = self.levels.get(level)
        if group is None:
            group = self.levels[level] = _Level(alias=self._fresh(f"segql_s{len(self.levels)}"))
            self.order[group.alias] = (level, 0, 0)
        column = f"v{len(group.values)}"
        group.values.append((column, value))
        group.scope.streams |= scope.streams
        group.scope.derived |= scope.derived
        self.shared[id(node)] = (group.alias, column)

    def _level_query(self, level: _Level) -> Any:
        exp = self.exp
        ent = self.schema.entity
        q = exp.select(
            exp.alias_(self.col(ent.key, ENTITY), "k", quoted=True, copy=False),
            *(exp.alias_(v, c, quoted=True, copy=False) for c, v in level.values),
            copy=False,
        ).from_(self.table(ent.source, ENTITY), copy=False)
        q = self._join_aggs(q, only=level.scope.streams)
        q = self._join_derived(q, level.scope)
        self._fits(q)
        return q

    def _join_aggs(
        self, select: Any, inner: frozenset[str] = frozenset(), only: set[str] | None = None
    ) -> Any:
        """Join each stream's pass (or those in ``only``) on the key: LEFT, or INNER for
        streams the condition cannot be true without (such contacts are never members)."""
        for s in self.streams.values():
            if only is not None and s.name not in only:
                continue
            select = self._join(select, s.alias(), inner=s.name in inner)
        return select

    def _join(self, select: Any, alias: str, *, inner: bool) -> Any:
        """Join the CTE ``alias`` on its key ``k`` (built directly: sqlglot's ``join``
        builder parses the join type from text)."""
        exp = self.exp
        on = exp.EQ(this=self.col("k", alias), expression=self.col(self.schema.entity.key, ENTITY))
        table = exp.Table(this=self.ident(alias), alias=exp.TableAlias(this=self.ident(alias)))
        join = (
            exp.Join(this=table, on=on, kind="INNER")
            if inner
            else exp.Join(this=table, on=on, side="LEFT")
        )
        select.append("joins", join)
        return select

    def _agg_ctes(self, reduce: list[ir.TExpr] | None = None) -> list[tuple[str, Any]]:
        """One grouped pass per stream. ``reduce``: profile-only conditions every member
        meets; the passes then skip other contacts' events (a semi-join reduction)."""
        exp = self.exp
        out = []
        keep = None
        used_keep = False
        if reduce and any(not s.windowed for s in self.streams.values()):
            ent = self.schema.entity
            keep = (
                exp.select(self.col(ent.key, ENTITY), copy=False)
                .from_(self.table(ent.source, ENTITY), copy=False)
                .where(
                    exp.and_(*(exp.Paren(this=self.expr(c, None)) for c in reduce), copy=False),
                    copy=False,
                )
            )
        for s in self.streams.values():
            stream = self.schema.streams[s.name]
            windowed = s.windowed
            time = self.p.timestamp_column(self.col(stream.time, EVENT))
            aggs = list(s.columns.values())
            keys = {a.cond_key for a in aggs}
            # Every aggregate under the same condition: the pass filters by it once and its
            # aggregates take every remaining event. Conditioned otherwise: events matching
            # none of the conditions are skipped, and each aggregate tests its own.
            shared = len(keys) == 1 and None not in keys
            q = exp.select(
                exp.alias_(self.col(stream.key, EVENT), "k", quoted=True, copy=False), copy=False
            )
            for a in aggs:
                q = q.select(
                    exp.alias_(self._agg_sql(a, shared), a.alias, quoted=True, copy=False),
                    copy=False,
                )
            q = q.from_(self.table(stream.source, EVENT), copy=False)
            conds = [exp.LTE(this=time, expression=self.ts(self.as_of))]
            if windowed and not shared and s.earliest is not None:
                conds.append(exp.GTE(this=time, expression=self.ts(s.earliest)))
            filt = self.schema.filters_ir.get(s.name)
            if filt is not None:
                conds.append(exp.Paren(this=self.expr(filt, s.name)))
            # Only passes over all of a stream's history: a windowed pass reads a slice of an
            # event log kept in time order, smaller than the reduction's own cost.
            if keep is not None and not windowed:
                sub = keep if not used_keep else keep.copy()
                used_keep = True
                conds.append(exp.In(this=self.col(stream.key, EVENT), query=exp.Subquery(this=sub)))
            if shared:
                conds.append(exp.Paren(this=aggs[0].cond))
            elif None not in keys:
                conds.append(
                    exp.Paren(
                        this=exp.or_(
                            *(exp.Paren(this=a.cond.copy()) for a in _distinct_conds(aggs)),
                            copy=False,
                        )
                    )
                )
            q = q.where(exp.and_(*conds, copy=False), copy=False).group_by(
                self.col(stream.key, EVENT), copy=False
            )
            out.append((s.alias(), q))
        return out

    def _exists(self, node: ir.Exists) -> Any:
        """`has E where C within D` as a correlated EXISTS: engines plan it as a semi (or,
        under `not`, anti) join, measured faster than counting in the stream's pass."""
        exp = self.exp
        stream = self.schema.streams[node.stream]
        alias = f"h{self._exists_count}"
        self._exists_count += 1
        time = self.p.timestamp_column(self.col(stream.time, alias))
        conds = [
            exp.EQ(
                this=self.col(stream.key, alias),
                expression=self.col(self.schema.entity.key, ENTITY),
            ),
            exp.LTE(this=time, expression=self.ts(self.as_of)),
        ]
        filt = self.schema.filters_ir.get(node.stream)
        with self._event_alias(alias):
            if filt is not None:
                conds.append(exp.Paren(this=self.expr(filt, node.stream)))
            if node.where is not None:
                conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
        if node.within is not None:
            conds.append(exp.GTE(this=time.copy(), expression=self.ts(self._ago(node.within))))
        sub = (
            exp.select(exp.Literal.number(1), copy=False)
            .from_(self.table(stream.source, alias), copy=False)
            .where(exp.and_(*conds, copy=False), copy=False)
        )
        return exp.Exists(this=sub)

    @contextlib.contextmanager
    def _event_alias(self, alias: str) -> Iterator[None]:
        old = self.event_alias
        self.event_alias = alias
        try:
            yield
        finally:
            self.event_alias = old

    def _register_agg(self, node: ir.Agg | ir.Exists) -> Any:
        """Add an aggregate to its stream's pass (once: equal aggregates share a column);
        returns the joined column."""
        exp = self.exp
        s = self.streams.setdefault(node.stream, _StreamAggs(name=node.stream))
        self.scope.streams.add(node.stream)
        stream = self.schema.streams[node.stream]
        since = None
        if node.within is not None:
            since = self._ago(node.within)
            s.earliest = since if s.earliest is None else min(s.earliest, since)
        else:
            s.all_windowed = False
        func = ir.AggFunc.COUNT if isinstance(node, ir.Exists) else node.func
        column = None if isinstance(node, ir.Exists) else node.column
        conditioned = node.where is not None or node.within is not None
        # An event condition holds no trait or segment, so its repr is small.
        cond_key = (repr(node.where), node.within) if conditioned else None
        key = (func, column, cond_key)
        if key in s.columns:
            return self.col(s.columns[key].alias, s.alias())
        conds = []
        if node.where is not None:
            conds.append(self.expr(node.where, node.stream))
        if since is not None:
            time = self.p.timestamp_column(self.col(stream.time, EVENT))
            conds.append(exp.GTE(this=time, expression=self.ts(since)))
        cond = exp.and_(*conds, copy=False) if conds else None
        target = None
        if func in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
            target = self.p.timestamp_column(self.col(stream.time, EVENT))
        elif func is not ir.AggFunc.COUNT:
            assert column is not None
            ftype = self._field_type(node.stream, column)
            target = self.typed_col(column, EVENT, ftype, node.span)
        alias = f"a{len(s.columns)}"
        s.columns[key] = _PassAgg(
            alias=alias, func=func, target=target, cond=cond, cond_key=cond_key
        )
        return self.col(alias, s.alias())

    def _agg_sql(self, a: _PassAgg, unconditional: bool) -> Any:
        exp = self.exp
        cond = None if unconditional else a.cond

        def value(v: Any) -> Any:
            if cond is None:
                return v
            return exp.Case(ifs=[exp.If(this=cond, true=v)])

        match a.func:
            case ir.AggFunc.COUNT:
                if cond is None:
                    return exp.Count(this=exp.Star())
                return exp.Count(this=value(exp.Literal.number(1)))
            case ir.AggFunc.COUNT_DISTINCT:
                return exp.Count(this=exp.Distinct(expressions=[value(a.target)]))
            case ir.AggFunc.SUM:
                return exp.Sum(this=value(a.target))
            case ir.AggFunc.AVG:
                return exp.Avg(this=value(self.p.to_double(a.target)))
            case ir.AggFunc.MIN | ir.AggFunc.FIRST:
                return exp.Min(this=value(a.target))
            case ir.AggFunc.MAX | ir.AggFunc.LAST:
                return exp.Max(this=value(a.target))
            case _:
                assert_never(a.func)

    def _field_type(self, stream: str, column: str | None) -> Type:
        st = self.schema.streams[stream]
        for fd in st.fields.values():
            if fd.column == column:
                return fd.type
        return Type.TIMESTAMP

    def _ago(self, d: ir.Duration) -> dt.datetime:
        return timecalc.ago(self.as_of, d.amount, d.unit, self.tz, d.span)

    # --- expressions ------------------------------------------------------------------
    def expr(self, node: ir.TExpr, stream: str | None) -> Any:
        exp = self.exp
        if self.shared and stream is None:
            hit = self.shared.get(id(node))
            if hit is not None:
                self.scope.derived.add(hit[0])
                return self.col(hit[1], hit[0])
        match node:
            case ir.Lit(value=v, type=t):
                return self.lit(v, t, node.span)
            case ir.Field(column=c, type=t):
                return self.typed_col(c, ENTITY, t, node.span)
            case ir.EventField(column=c, type=t):
                return self.typed_col(c, self.event_alias, t, node.span)
            case ir.Now():
                return self.ts(self.as_of)
            case ir.Today():
                return self.ts(timecalc.today(self.as_of, self.tz, node.span))
            case ir.Ago(duration=d):
                return self.ts(self._ago(d))
            case ir.DateToTimestamp(operand=o):
                if isinstance(o, ir.Lit) and isinstance(o.value, dt.date):
                    return self.ts(timecalc.date_to_timestamp(o.value, self.tz, o.span))
                self._need_zones(node.span)
                return self.p.date_to_timestamp(self.expr(o, stream), self.zone)
            case ir.Neg(operand=o):
                return exp.Neg(this=exp.Paren(this=self.expr(o, stream)))
            case ir.Arith():
                return self._arith(node, stream)
            case ir.Not(operand=o):
                return exp.Not(this=exp.Paren(this=self.expr(o, stream)))
            case ir.BoolOp(op=op, operands=ops):
                parts = [exp.Paren(this=self.expr(o, stream)) for o in ops]
                return (
                    exp.and_(*parts, copy=False)
                    if op is BoolOpKind.AND
                    else exp.or_(*parts, copy=False)
                )
            case ir.Compare(op=op, left=x, right=y):
                cls = {
                    CmpOp.EQ: exp.EQ,
                    CmpOp.NE: exp.NEQ,
                    CmpOp.LT: exp.LT,
                    CmpOp.LE: exp.LTE,
                    CmpOp.GT: exp.GT,
                    CmpOp.GE: exp.GTE,
                }[op]
                return cls(this=self._operand(x, stream), expression=self._operand(y, stream))
            case ir.Between(operand=o, low=lo, high=hi):
                return exp.Between(
                    this=self._operand(o, stream),
                    low=self._operand(lo, stream),
                    high=self._operand(hi, stream),
                )
            case ir.InList(operand=o, items=items, negated=neg):
                if not items:
                    return self.p.true() if neg else self.p.false()
                inx = exp.In(
                    this=self._operand(o, stream),
                    expressions=[self._operand(i, stream) for i in items],
                )
                return exp.Not(this=inx) if neg else inx
            case ir.IsNull(operand=o, negated=neg):
                isn = exp.Is(this=self._operand(o, stream), expression=exp.null())
                return exp.Not(this=isn) if neg else isn
            case ir.StrMatch():
                return self._str_match(node, stream)
            case ir.ListContains(list=lst, item=item):
                return self.p.list_contains(self.expr(lst, stream), self._operand(item, stream))
            case ir.Within(operand=o, duration=d):
                return exp.Between(
                    this=self._operand(o, stream),
                    low=self.ts(self._ago(d)),
                    high=self.ts(self.as_of),
                )
            case ir.Func():
                return self._func(node, stream)
            case ir.Agg(func=f):
                column = self._register_agg(node)
                if f in (ir.AggFunc.COUNT, ir.AggFunc.COUNT_DISTINCT, ir.AggFunc.SUM):
                    return exp.Coalesce(this=column, expressions=[exp.Literal.number(0)])
                return column
            case ir.Exists():
                return self._exists(node)
            case ir.IsTrue(operand=o):
                return exp.Coalesce(
                    this=exp.Paren(this=self.expr(o, stream)), expressions=[self.p.false()]
                )
            case ir.Percentile(operand=o):
                return self._window(node, o, None)
            case ir.TopPercent(percent=pct, operand=o):
                return self._window(node, o, pct)
            case _:
                assert_never(node)

    def _operand(self, node: ir.TExpr, stream: str | None) -> Any:
        e = self.expr(node, stream)
        if isinstance(e, self.exp.Binary | self.exp.Predicate | self.exp.Not):
            return self.exp.Paren(this=e)
        return e

    def _need_zones(self, span: Span) -> None:
        if self.zone != "UTC" and not self.p.time_zones:
            raise _refuse(
                "unsupported-construct",
                f"{self.p.name} has no time zone support, and this needs the calendar of "
                f"{self.zone}",
                span,
                "use a UTC schema for SQLite, or another dialect",
            )

    def _arith(self, node: ir.Arith, stream: str | None) -> Any:
        exp = self.exp
        x = self._operand(node.left, stream)
        y = self._operand(node.right, stream)
        if node.op is ArithOp.DIV:
            return exp.Div(
                this=self.p.to_double(x),
                expression=exp.Nullif(this=self.p.to_double(y), expression=exp.Literal.number(0)),
                typed=True,
            )
        if node.type is Type.FLOAT:
            x = self.p.to_double(x) if node.left.type is not Type.FLOAT else x
            y = self.p.to_double(y) if node.right.type is not Type.FLOAT else y
        if node.op is ArithOp.MOD:
            if self.p.name == "sqlite" and node.type is not Type.INTEGER:
                raise _refuse(
                    "unsupported-construct",
                    "SQLite's `%` only works on whole numbers",
                    node.span,
                )
            return exp.Mod(this=x, expression=exp.Nullif(this=y, expression=exp.Literal.number(0)))
        cls = {ArithOp.ADD: exp.Add, ArithOp.SUB: exp.Sub, ArithOp.MUL: exp.Mul}[node.op]
        return cls(this=x, expression=y)

    def _str_match(self, node: ir.StrMatch, stream: str | None) -> Any:
        exp = self.exp
        s = self._operand(node.left, stream)
        t = self._operand(node.right, stream)
        length = self.p.string_length
        if node.op is ir.StrMatchOp.CONTAINS:
            return exp.GT(this=exp.StrPosition(this=s, substr=t), expression=exp.Literal.number(0))
        if node.op is ir.StrMatchOp.STARTS_WITH:
            prefix = exp.Substring(this=s, start=exp.Literal.number(1), length=length(t))
            return exp.EQ(this=prefix, expression=t.copy())
        start = exp.Add(
            this=exp.Sub(this=length(s.copy()), expression=length(t.copy())),
            expression=exp.Literal.number(1),
        )
        suffix = exp.Substring(this=s, start=start)
        return exp.and_(
            exp.GTE(this=length(s.copy()), expression=length(t.copy())),
            exp.EQ(this=suffix, expression=t.copy()),
            copy=False,
        )

    def _local(self, node: ir.TExpr, stream: str | None) -> Any:
        """A date, or the wall-clock time in the schema zone of a timestamp."""
        e = self.expr(node, stream)
        if node.type is Type.TIMESTAMP:
            self._need_zones(node.span)
            return self.p.local_of_utc(e, self.zone)
        return e

    def _func(self, node: ir.Func, stream: str | None) -> Any:
        exp = self.exp
        F = ir.FuncName
        args = node.args
        match node.func:
            case F.LOWER:
                return exp.Lower(this=self.expr(args[0], stream))
            case F.UPPER:
                return exp.Upper(this=self.expr(args[0], stream))
            case F.TRIM:
                return exp.Trim(this=self.expr(args[0], stream))
            case F.LENGTH:
                a0 = self.expr(args[0], stream)
                if args[0].type.is_list:
                    return self.p.list_length(a0)
                return self.p.string_length(a0)
            case F.ABS:
                return exp.Abs(this=self.expr(args[0], stream))
            case F.FLOOR:
                return exp.Floor(this=self.expr(args[0], stream))
            case F.CEIL:
                return exp.Ceil(this=self.expr(args[0], stream))
            case F.ROUND:
                digits = _constant_int(args[1]) if len(args) > 1 else 0
                return self.p.round(self.expr(args[0], stream), digits, args[0].type)
            case F.COALESCE:
                parts = [self._operand(a, stream) for a in args]
                return exp.Coalesce(this=parts[0], expressions=parts[1:])
            case F.YEAR | F.MONTH | F.DAY:
                return self.p.part(node.func.value, self._local(args[0], stream))
            case F.WEEKDAY:
                return self.p.part("isodow", self._local(args[0], stream))
            case F.DAYS_SINCE:
                ts = self.expr(args[0], stream)
                if args[0].type is Type.DATE:
                    self._need_zones(node.span)
                    ts = self.p.date_to_timestamp(ts, self.zone)
                return self.p.days_between(self.as_of, ts)
            case F.DAYS_UNTIL_ANNIVERSARY:
                return self._anniversary(args[0], stream, node.span)
        raise AssertionError(node.func)  # pragma: no cover

    def _anniversary(self, node: ir.TExpr, stream: str | None, span: Span) -> Any:
        """Days from as_of's local date to the next month/day of the argument, computed
        with day-of-year arithmetic on constants known at compile time."""
        exp = self.exp
        local = self._local(node, stream)
        m = self.p.part("month", local)
        d = self.p.part("day", local.copy())
        today = timecalc.local_date(self.as_of, self.tz, span)
        y0 = today.year

        def ordinal(year: int, m: Any, d: Any) -> Any:
            before = [0]
            for month in range(1, 12):
                before.append(before[-1] + calendar.monthrange(year, month)[1])
            month_start = exp.Case(
                this=m.copy(),
                ifs=[
                    exp.If(this=exp.Literal.number(i + 1), true=exp.Literal.number(v))
                    for i, v in enumerate(before)
                ],
            )
            day = d.copy()
            if not calendar.isleap(year):
                # Feb 29 falls on Feb 28 in common years.
                day = exp.Case(
                    ifs=[
                        exp.If(
                            this=exp.and_(
                                exp.EQ(this=m.copy(), expression=exp.Literal.number(2)),
                                exp.EQ(this=d.copy(), expression=exp.Literal.number(29)),
                                copy=False,
                            ),
                            true=exp.Literal.number(28),
                        )
                    ],
                    default=d.copy(),
                )
            return exp.Add(this=month_start, expression=day)

        today_ord = today.timetuple().tm_yday
        this_year = ordinal(y0, m, d)
        next_year = ordinal(y0 + 1, m, d)
        days_in_y0 = 366 if calendar.isleap(y0) else 365
        lit = exp.Literal.number
        return exp.Case(
            ifs=[
                exp.If(
                    this=exp.GTE(this=this_year.copy(), expression=lit(today_ord)),
                    true=exp.Sub(this=this_year, expression=lit(today_ord)),
                )
            ],
            default=exp.Add(this=next_year, expression=lit(days_in_y0 - today_ord)),
        )

    def _window(self, node: ir.TExpr, operand: ir.TExpr, top: Decimal | None) -> Any:
        """A percentile (or top-P% test) over the whole entity population, in its own CTE
        joined on the key (LEFT: a contact whose value is null is not in the CTE, so its
        answer is null). Equal rankings share one CTE."""
        exp = self.exp
        shape = self.shapes[node]
        outer = self.scope
        alias = self.window_aliases.get(shape)
        if alias is not None:
            outer.derived.add(alias)
            return self.col("v", alias)
        self.scope = scope = _Scope()
        x = self.expr(operand, None)
        # A count or a sum is never null; anything else may be, and nulls are not ranked.
        nullable = not (isinstance(operand, ir.Agg) and operand.func in _ZERO_WHEN_EMPTY)
        present = exp.Not(this=exp.Is(this=x.copy(), expression=exp.null())) if nullable else None
        order = exp.Order(expressions=[exp.Ordered(this=x)])
        if top is None:
            rank: Any = exp.Window(this=exp.PercentRank(), order=order)
            value: Any = exp.Mul(this=exp.Literal.number("100.0"), expression=rank)
        else:
            r = exp.Window(this=exp.Anonymous(this="RANK"), order=order)
            n = self._population_size(operand, nullable, bool(scope.derived))
            need = _EXACT.subtract(Decimal(100), top)  # not the thread's 28 digits
            lit = exp.Literal.number
            exact = exp.GTE(
                this=exp.Mul(
                    this=exp.Paren(this=exp.Sub(this=r, expression=lit(1))), expression=lit(100)
                ),
                expression=exp.Mul(
                    this=lit(format(need, "f")),
                    expression=exp.Paren(this=exp.Sub(this=n.copy(), expression=lit(1))),
                ),
            )
            single = self.p.true() if need <= 0 else self.p.false()
            value = exp.Case(
                ifs=[exp.If(this=exp.EQ(this=n, expression=lit(1)), true=single)],
                default=exact,
            )
        ent = self.schema.entity
        q = exp.select(
            exp.alias_(self.col(ent.key, ENTITY), "k", quoted=True, copy=False),
            exp.alias_(value, "v", quoted=True, copy=False),
            copy=False,
        ).from_(self.table(ent.source, ENTITY), copy=False)
        q = self._join_aggs(q, only=scope.streams)
        q = self._join_derived(q, scope)
        self._fits(q)
        if present is not None:
            q = q.where(present, copy=False)
        self.scope = outer
        alias = self._fresh(f"segql_p{len(self.window_aliases)}")
        self.window_aliases[shape] = alias
        self.order[alias] = (self._level(scope) - 1, 1, len(self.window_aliases))
        self.derived[alias] = q
        outer.derived.add(alias)
        return self.col("v", alias)

    def _population_size(self, operand: ir.TExpr, nullable: bool, joined: bool) -> Any:
        """How many contacts have a value: a scalar subquery where one can say it (DuckDB
        computes an unpartitioned ``COUNT(*) OVER ()`` on one thread: top10_consent
        0.44 s -> 0.31 s), else a window count over the CTE's rows (also when the value
        reads another CTE, which the subquery would not join)."""
        exp = self.exp
        ent = self.schema.entity
        if joined or (nullable and not _profile_only(operand)):
            return exp.Window(this=exp.Count(this=exp.Star()))
        # Never null, or read from the profile alone: count it in the entity table.
        counted = exp.Star() if not nullable else self.expr(operand, None)
        return exp.Subquery(
            this=exp.select(exp.Count(this=counted), copy=False).from_(
                self.table(ent.source, ENTITY), copy=False
            )
        )
