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

import datetime as dt
from typing import Any

from segql.backends.sql.dialects import HasPlan, Profile
from segql.backends.sql.events import EventQueries
from segql.backends.sql.functions import AGGREGATES
from segql.backends.sql.grid import adds_up, grid_pass, mask_sql, window_mask
from segql.backends.sql.plan import (
    ENTITY,
    EVENT,
    HOIST_DEPTH,
    Level,
    PassAgg,
    Scope,
    SqlOptions,
    StreamAggs,
    distinct_conds,
    entity_only_conjuncts,
    refuse,
    required_streams,
    shared_ctes,
)
from segql.backends.sql.transitions import summed, transitions
from segql.core.diagnostics import Span
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang.ast import BoolOpKind


class Compiler(EventQueries):
    """Compiles one segment: the query plan (stream passes, CTEs, joins) here, the
    expressions in :class:`ExpressionCompiler`."""

    def __init__(self, schema: Schema, profile: Profile, as_of: dt.datetime, options: SqlOptions):
        from sqlglot import exp

        self.exp = exp
        self.schema = schema
        self.p = profile
        self.as_of = as_of
        self.tz = schema.tz
        self.zone = schema.timezone
        self.options = options
        self.streams: dict[str, StreamAggs] = {}
        # Window and shared CTEs, by alias, with the key that orders them after what they
        # read: (level, 0, 0) for the shared CTE of a level, (level, 1, n) for the n-th window.
        self.derived: dict[str, Any] = {}
        self.order: dict[str, tuple[int, int, int]] = {}
        self.window_aliases: dict[int, str] = {}  # by shape of the ranking
        self.scalars: set[str] = set()  # one-row CTEs (thresholds): read, never joined
        self.pick_aliases: dict[int, str] = {}  # by shape of the first_value/last_value/mode
        self.shapes = dag.Shapes()
        self.shared: dict[int, tuple[str, str]] = {}  # id of a hoisted node -> CTE, column
        self.levels: dict[int, Level] = {}
        self.scope = Scope()
        self.event_alias = EVENT
        self.prior_alias = EVENT
        self.own_aliases: dict[int, str] = {}  # by shape of a correlated aggregate
        self._exists_count = 0
        # file: sources compiled for a database as tables named after their files
        self.file_tables: dict[str, str] = {}
        self.at_aliases: dict[int, str] = {}  # by id of a value at another instant
        self.grid_top: dt.datetime | None = None  # a history's last point (SqlOptions.points)

    # --- the query --------------------------------------------------------------------
    def query(self, texpr: ir.TExpr) -> Any:
        exp = self.exp
        main = self.scope
        limit = self.p.caps.max_depth
        max_depth = HOIST_DEPTH if limit is None else min(HOIST_DEPTH, limit)
        roots = [texpr, *(v for _, v in self.options.select)]
        if self.options.points:
            values = self._points(texpr)
            plan = transitions(self, [v for _, v in values])
            if plan is not None:
                return plan
            texpr = ir.Lit(value=True, type=Type.BOOLEAN)
        else:
            for node in shared_ctes(roots, max_depth):
                self._hoist(node)
        self.scope = main
        cond = self.expr(texpr, None)
        if not self.options.points:
            values = [(name, self.expr(v, None)) for name, v in self.options.select]
        ent = self.schema.entity
        key = ent.key
        select = exp.select(self.col(key, ENTITY), copy=False).from_(
            self.table(ent.source, ENTITY), copy=False
        )
        for name, value in values:
            select = select.select(exp.alias_(value, name, quoted=True, copy=False), copy=False)
        alone = not (self.derived or self.levels)
        reduce = entity_only_conjuncts(texpr) if alone else None
        inner = required_streams(texpr, counted_has=self.p.caps.has_plan is HasPlan.COUNTED)
        having = self._having(texpr, inner) if alone and self.p.caps.filtered_passes else {}
        ctes = self._agg_ctes(reduce, having)
        select = self._join_aggs(select, inner=inner, only=main.streams)
        select = self._join_derived(select, main)
        self._fits(select)
        for level in self.levels.values():
            self.derived[level.alias] = self._level_query(level)
        ctes.extend((a, self.derived[a]) for a in sorted(self.derived, key=self.order.__getitem__))
        select = select.where(cond, copy=False)
        fence = True if self.p.caps.materialized_ctes else None
        shared = {level.alias for level in self.levels.values()}
        if self.options.every_contact:
            # a batch's passes are read by many of its queries: computed once
            shared |= {s.alias() for s in self.streams.values()}
        for alias, cte in ctes:
            select = select.with_(
                self.ident(alias),
                as_=cte,
                copy=False,
                materialized=fence if alias in shared else None,
            )
        if self.options.points:  # each contact's membership per point, summed
            return summed(exp, select, len(self.options.points))
        return select

    def _points(self, texpr: ir.TExpr) -> list[tuple[str, Any]]:
        """Membership at each point of a history, compiled at that point's as_of: what
        reads events in queries of their own gets its own per point; a stream's pass is
        shared, its aggregates bounded by their point (:meth:`_register_agg`). Nothing is
        hoisted: a shared value holds at one instant only."""
        points = self.options.points
        self.grid_top = max(points)
        member = ir.IsTrue(operand=texpr, segment="")
        out = []
        for i, at in enumerate(points):
            self.as_of = at
            self.window_aliases, self.pick_aliases = {}, {}
            self.own_aliases, self.at_aliases = {}, {}
            out.append((f"p{i}", self.expr(member, None)))
        self.as_of = self.grid_top
        return out

    def _join_derived(self, select: Any, scope: Scope) -> Any:
        """LEFT JOIN the window and shared CTEs ``scope`` reads, in their order."""
        for alias in sorted(scope.derived, key=self.order.__getitem__):
            select = self._join(select, alias, inner=False)
        return select

    def _fits(self, select: Any) -> None:
        """Some engines join a limited number of tables in one SELECT (SQLite: 64)."""
        limit = self.p.caps.max_joins
        if limit is not None and len(select.args.get("joins") or ()) >= limit:
            raise refuse(
                "unsupported-construct",
                f"this segment needs more than {limit} tables in one join, {self.p.name}'s maximum",
                Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1),
                "use duckdb or postgres, or fewer streams, rankings and shared segments",
            )

    def _level(self, scope: Scope) -> int:
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
        self.scope = scope = Scope()
        value = self.expr(node, None)
        level = self._level(scope)
        group = self.levels.get(level)
        if group is None:
            group = self.levels[level] = Level(alias=self._fresh(f"segql_s{len(self.levels)}"))
            self.order[group.alias] = (level, 0, 0)
        column = f"v{len(group.values)}"
        group.values.append((column, value))
        group.scope.streams |= scope.streams
        group.scope.derived |= scope.derived
        self.shared[id(node)] = (group.alias, column)

    def _level_query(self, level: Level) -> Any:
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

    def _join(self, select: Any, alias: str, *, inner: bool, key: Any = None) -> Any:
        """Join the CTE ``alias`` on its key ``k`` = the contact's (or ``key``) (built
        directly: sqlglot's ``join`` builder parses the join type from text)."""
        if alias in self.scalars:
            return select
        exp = self.exp
        if key is None:
            key = self.col(self.schema.entity.key, ENTITY)
        on = exp.EQ(this=self.col("k", alias), expression=key.copy())
        table = exp.Table(this=self.ident(alias), alias=exp.TableAlias(this=self.ident(alias)))
        join = (
            exp.Join(this=table, on=on, kind="INNER")
            if inner
            else exp.Join(this=table, on=on, side="LEFT")
        )
        select.append("joins", join)
        return select

    def _having(self, texpr: ir.TExpr, inner: frozenset[str]) -> dict[str, list[Any]]:
        """Top-level conjuncts that read only one inner-joined stream's aggregates, by
        stream: repeated as the pass's HAVING, so the join meets only contacts that can
        still be members (the WHERE keeps them, so the answer cannot change)."""
        parts = (
            texpr.operands
            if isinstance(texpr, ir.BoolOp) and texpr.op is BoolOpKind.AND
            else (texpr,)
        )
        out: dict[str, list[Any]] = {}
        for c in parts:
            nodes = ir.walk(c)
            if any(isinstance(n, ir.Percentile | ir.TopPercent) for n in nodes):
                continue
            if self.p.caps.has_plan is not HasPlan.COUNTED and any(
                isinstance(n, ir.Exists) for n in nodes
            ):
                continue
            streams = {n.stream for n in nodes if isinstance(n, ir.Agg | ir.Exists)}
            if len(streams) != 1 or not streams <= inner:
                continue
            (name,) = streams
            sql = self.expr(c, None)
            tables = {col.table for col in sql.find_all(self.exp.Column)}
            if tables == {self.streams[name].alias()}:
                out.setdefault(name, []).append(sql)
        return out

    def _agg_ctes(
        self, reduce: list[ir.TExpr] | None = None, having: dict[str, list[Any]] | None = None
    ) -> list[tuple[str, Any]]:
        """One grouped pass per stream. ``reduce``: profile-only conditions every member
        meets; the passes then skip other contacts' events (a semi-join reduction).
        ``having``: conditions on a pass's own aggregates that every member meets."""
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
            if self.grid_top is not None and all(a.exact for a in s.columns.values()):
                out.append((s.alias(), grid_pass(self, s, stream)))
                continue
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
            conds = self.seen(time)
            if windowed and not shared and s.earliest is not None:
                conds.append(exp.GTE(this=time, expression=self.ts(s.earliest)))
            filt = definitions(self.schema).filters.get(s.name)
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
                            *(exp.Paren(this=a.cond.copy()) for a in distinct_conds(aggs)),
                            copy=False,
                        )
                    )
                )
            q = q.where(exp.and_(*conds, copy=False), copy=False).group_by(
                self.col(stream.key, EVENT), copy=False
            )
            filters = (having or {}).get(s.name)
            if filters:
                by_alias = {a.alias: self._agg_sql(a, shared) for a in aggs}

                def own(node: Any, by_alias: dict[str, Any] = by_alias) -> Any:
                    if isinstance(node, exp.Column) and node.name in by_alias:
                        return by_alias[node.name].copy()
                    return node

                q = q.having(
                    exp.and_(*(exp.Paren(this=f.transform(own)) for f in filters), copy=False),
                    copy=False,
                )
            out.append((s.alias(), q))
        return out

    def _register_agg(self, node: ir.Agg | ir.Exists) -> Any:
        """Add an aggregate to its stream's pass (once: equal aggregates share a column);
        returns the joined column."""
        exp = self.exp
        s = self.streams.setdefault(node.stream, StreamAggs(name=node.stream))
        self.scope.streams.add(node.stream)
        stream = self.schema.streams[node.stream]
        if self.grid_top is not None and isinstance(node, ir.Exists):
            bit = window_mask(self, s, stream, node)
            if bit is not None:
                return bit
        since = None
        if node.within is not None:
            since = self._ago(node.within)
            s.earliest = since if s.earliest is None else min(s.earliest, since)
        else:
            s.all_windowed = False
        func = ir.AggFunc.COUNT if isinstance(node, ir.Exists) else node.func
        column = None if isinstance(node, ir.Exists) else node.column
        operand = None if isinstance(node, ir.Exists) else node.operand
        # a point of a history before its last: only the events up to that point
        upto = self.as_of if self.grid_top is not None and self.as_of < self.grid_top else None
        conditioned = node.where is not None or node.within is not None or upto is not None
        # An event condition holds no trait or segment, so its repr is small.
        cond_key = (repr(node.where), node.within, upto) if conditioned else None
        shape = repr(operand) if operand is not None else None
        key: tuple[Any, ...] = (func, column, cond_key, shape)
        latest = None
        if isinstance(node, ir.Exists) and self.grid_top is None:
            latest = self.latest_test(node, since)
            if latest is not None:
                key = ("latest", cond_key)
        if key in s.columns:
            return self.col(s.columns[key].alias, s.alias())
        conds = []
        # the window first: a cheap comparison that rules out most of a long history
        # before the event condition is evaluated
        time = self.p.timestamp_column(self.col(stream.time, EVENT))
        if upto is not None:
            conds.append(exp.LTE(this=time.copy(), expression=self.ts(upto)))
        if since is not None:
            conds.append(exp.GTE(this=time.copy(), expression=self.ts(since)))
        where = self.expr(node.where, node.stream) if node.where is not None else None
        if where is not None:
            conds.append(where.copy())
        cond = exp.and_(*conds, copy=False) if conds else None
        target = None
        if func in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
            target = self.p.timestamp_column(self.col(stream.time, EVENT))
        elif operand is not None:  # a calendar function of the field
            target = self.expr(operand, node.stream)
        elif func is not ir.AggFunc.COUNT:
            assert column is not None
            ftype = self._field_type(node.stream, column)
            target = self.typed_col(column, EVENT, ftype, node.span)
        alias = f"a{len(s.columns)}"
        grid = self.grid_top is not None
        s.columns[key] = PassAgg(
            alias=alias,
            func=func,
            target=target,
            cond=cond,
            cond_key=cond_key,
            where=where,
            point=self.options.points.index(self.as_of) if grid else None,
            exact=grid and adds_up(func, operand, self._type_of(node), node.within),
            latest=latest,
        )
        return self.col(alias, s.alias())

    def _type_of(self, node: ir.Agg | ir.Exists) -> Type | None:
        if isinstance(node, ir.Exists) or node.column is None:
            return None
        return self._field_type(node.stream, node.column)

    def _agg_sql(self, a: PassAgg, unconditional: bool) -> Any:
        if a.mask:
            return mask_sql(self, a, unconditional)
        if a.latest is not None and not unconditional:
            exp = self.exp
            one = exp.If(this=a.latest.copy(), true=exp.Literal.number(1))
            return exp.Case(ifs=[one], default=exp.Literal.number(0))
        return AGGREGATES[a.func](self, a.target, None if unconditional else a.cond)

    def _ago(self, d: ir.Duration) -> dt.datetime:
        return timecalc.ago(self.as_of, d.amount, d.unit, self.tz, d.span)
