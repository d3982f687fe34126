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

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from segql.backends.sql.dialects import HasPlan, Profile
from segql.backends.sql.expressions import ExpressionCompiler
from segql.backends.sql.functions import AGGREGATES
from segql.backends.sql.plan import (
    ENTITY,
    EVENT,
    HOIST_DEPTH,
    Level,
    PassAgg,
    Scope,
    SqlOptions,
    StreamAggs,
    correlated,
    distinct_conds,
    entity_only_conjuncts,
    refuse,
    required_streams,
    shared_ctes,
)
from segql.core.diagnostics import Span
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang.ast import BoolOpKind


class Compiler(ExpressionCompiler):
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

    # --- the query --------------------------------------------------------------------
    def query(self, texpr: ir.TExpr) -> Any:
        exp = self.exp
        main = self.scope
        limit = self.p.caps.max_depth
        max_depth = HOIST_DEPTH if limit is None else min(HOIST_DEPTH, limit)
        roots = [texpr, *(v for _, v in self.options.select)]
        for node in shared_ctes(roots, max_depth):
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
        for alias, cte in ctes:
            select = select.with_(
                self.ident(alias),
                as_=cte,
                copy=False,
                materialized=fence if alias in shared else None,
            )
        return select

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

    def _exists(self, node: ir.Exists) -> Any:
        """`has E where C within D` as a correlated EXISTS, which engines plan as a semi
        (or, under `not`, anti) join, or (HasPlan.IN_SET) as the contact's key in the set
        of the stream's keys: both measured faster than counting in the stream's pass."""
        exp = self.exp
        stream = self.schema.streams[node.stream]
        alias = f"h{self._exists_count}"
        self._exists_count += 1
        time = self.p.timestamp_column(self.col(stream.time, alias))
        in_set = self.p.caps.has_plan is HasPlan.IN_SET
        conds = [exp.LTE(this=time, expression=self.ts(self.as_of))]
        if not in_set:
            conds.insert(
                0,
                exp.EQ(
                    this=self.col(stream.key, alias),
                    expression=self.col(self.schema.entity.key, ENTITY),
                ),
            )
        filt = definitions(self.schema).filters.get(node.stream)
        with self._event_alias(alias):
            if filt is not None:
                conds.append(exp.Paren(this=self.expr(filt, node.stream)))
            if node.where is not None:
                conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
        if node.within is not None:
            conds.append(exp.GTE(this=time.copy(), expression=self.ts(self._ago(node.within))))
        picked = self.col(stream.key, alias) if in_set else exp.Literal.number(1)
        sub = (
            exp.select(picked, copy=False)
            .from_(self.table(stream.source, alias), copy=False)
            .where(exp.and_(*conds, copy=False), copy=False)
        )
        if in_set:
            # A null key is in no set (the engine's IN skips nulls: EXISTS's answer).
            member = exp.In(
                this=self.col(self.schema.entity.key, ENTITY), query=exp.Subquery(this=sub)
            )
            return exp.Coalesce(this=exp.Paren(this=member), expressions=[self.p.false()])
        return exp.Exists(this=sub)

    @contextlib.contextmanager
    def _event_alias(self, alias: str) -> Iterator[None]:
        old = self.event_alias
        self.event_alias = alias
        try:
            yield
        finally:
            self.event_alias = old

    def _pick(self, node: ir.Agg) -> Any:
        """first_value / last_value / mode: one value per contact, from a query that ranks
        the stream's events (or, for mode, its values by count) per contact and keeps the
        first; LEFT-joined on the key like a ranking. Ties go to the smaller value (the
        greater for last_value) in binary order, the same on every engine."""
        exp = self.exp
        shape = self.shapes[node]
        outer = self.scope
        alias = self.pick_aliases.get(shape)
        if alias is not None:
            outer.derived.add(alias)
            return self.col("v", alias)
        stream = self.schema.streams[node.stream]
        assert node.column is not None
        ftype = self._field_type(node.stream, node.column)
        value = self.typed_col(node.column, EVENT, ftype, node.span)
        if node.operand is not None:  # a calendar function of the field
            ftype = node.operand.type
            value = self.expr(node.operand, node.stream)
        time = self.p.timestamp_column(self.col(stream.time, EVENT))
        conds: list[Any] = [
            exp.LTE(this=time, expression=self.ts(self.as_of)),
            exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())),
        ]
        filt = definitions(self.schema).filters.get(node.stream)
        if filt is not None:
            conds.append(exp.Paren(this=self.expr(filt, node.stream)))
        # what a condition reading the contact needs joined (CONTRACT §5.3)
        self.scope = scope = Scope()
        try:
            if node.where is not None:
                conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
        finally:
            self.scope = outer
        if node.within is not None:
            since = self._ago(node.within)
            conds.append(exp.GTE(this=time.copy(), expression=self.ts(since)))
        key = self.col(stream.key, EVENT)
        where = exp.and_(*conds, copy=False)
        source = self.table(stream.source, EVENT)
        number = exp.Anonymous(this="ROW_NUMBER")
        if node.func is ir.AggFunc.MODE:
            counted = (
                exp.select(
                    exp.alias_(key, "k", quoted=True, copy=False),
                    exp.alias_(value, "v", quoted=True, copy=False),
                    exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True, copy=False),
                    copy=False,
                )
                .from_(source, copy=False)
                .where(where, copy=False)
                .group_by(key.copy(), value.copy(), copy=False)
            )
            order = [
                exp.Ordered(this=self.col("n", "g"), desc=True),
                exp.Ordered(this=self.p.binary(self.col("v", "g"), ftype)),
            ]
            rank = exp.Window(
                this=number, partition_by=[self.col("k", "g")], order=exp.Order(expressions=order)
            )
            if correlated(node):
                counted = self._correlate(counted, scope, stream.key, EVENT)
            ranked = exp.select(
                self.col("k", "g"),
                self.col("v", "g"),
                exp.alias_(rank, "r", quoted=True, copy=False),
                copy=False,
            ).from_(exp.alias_(exp.Subquery(this=counted), "g", table=True, quoted=True))
        else:
            latest = node.func is ir.AggFunc.LAST_VALUE
            order = [
                exp.Ordered(this=time.copy(), desc=latest),
                exp.Ordered(this=self.p.binary(value.copy(), ftype), desc=latest),
            ]
            rank = exp.Window(
                this=number, partition_by=[key.copy()], order=exp.Order(expressions=order)
            )
            ranked = (
                exp.select(
                    exp.alias_(key, "k", quoted=True, copy=False),
                    exp.alias_(value, "v", quoted=True, copy=False),
                    exp.alias_(rank, "r", quoted=True, copy=False),
                    copy=False,
                )
                .from_(source, copy=False)
                .where(where, copy=False)
            )
            if correlated(node):
                ranked = self._correlate(ranked, scope, stream.key, EVENT)
        q = (
            exp.select(self.col("k", "p"), self.col("v", "p"), copy=False)
            .from_(exp.alias_(exp.Subquery(this=ranked), "p", table=True, quoted=True))
            .where(exp.EQ(this=self.col("r", "p"), expression=exp.Literal.number(1)), copy=False)
        )
        alias = self._fresh(f"segql_v{len(self.pick_aliases)}")
        self.pick_aliases[shape] = alias
        # reads only the stream: before every shared level and ranking; else after what
        # its condition reads
        self.order[alias] = (
            (self._level(scope) - 1, 1, len(self.order))
            if correlated(node)
            else (0, 0, len(self.pick_aliases))
        )
        self.derived[alias] = q
        outer.derived.add(alias)
        return self.col("v", alias)

    def _correlate(self, q: Any, scope: Scope, key: str, alias: str) -> Any:
        """``q`` over events (as ``alias``) joined to their contact and to what ``scope``
        reads of the contact: passes and derived CTEs, joined on the contact's key."""
        exp = self.exp
        ent = self.schema.entity
        on = exp.EQ(this=self.col(ent.key, ENTITY), expression=self.col(key, alias))
        q.append("joins", exp.Join(this=self.table(ent.source, ENTITY), on=on, kind="INNER"))
        q = self._join_aggs(q, only=scope.streams)
        q = self._join_derived(q, scope)
        self._fits(q)
        return q

    def _own_query(self, node: ir.Agg | ir.Exists) -> Any:
        """An aggregate whose event condition reads the contact (CONTRACT §5.3): a grouped
        query of its own over the stream joined to the contact, LEFT-joined on the key like
        a ranking (a contact without such events has no row: its value is the empty one)."""
        exp = self.exp
        shape = self.shapes[node]
        outer = self.scope
        alias = self.own_aliases.get(shape)
        if alias is not None:
            outer.derived.add(alias)
            return self.col("v", alias)
        stream = self.schema.streams[node.stream]
        time = self.p.timestamp_column(self.col(stream.time, EVENT))
        conds: list[Any] = [exp.LTE(this=time, expression=self.ts(self.as_of))]
        filt = definitions(self.schema).filters.get(node.stream)
        if filt is not None:
            conds.append(exp.Paren(this=self.expr(filt, node.stream)))
        if node.within is not None:
            conds.append(exp.GTE(this=time.copy(), expression=self.ts(self._ago(node.within))))
        target = None
        func = ir.AggFunc.COUNT
        if isinstance(node, ir.Agg):
            func = node.func
            if func in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
                target = time.copy()
            elif node.operand is not None:  # a calendar function of the field
                target = self.expr(node.operand, node.stream)
            elif func is not ir.AggFunc.COUNT:
                assert node.column is not None
                ftype = self._field_type(node.stream, node.column)
                target = self.typed_col(node.column, EVENT, ftype, node.span)
        self.scope = scope = Scope()
        try:
            assert node.where is not None
            conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
        finally:
            self.scope = outer
        key = self.col(stream.key, EVENT)
        q = exp.select(
            exp.alias_(key, "k", quoted=True, copy=False),
            exp.alias_(AGGREGATES[func](self, target, None), "v", quoted=True, copy=False),
            copy=False,
        ).from_(self.table(stream.source, EVENT), copy=False)
        q = self._correlate(q, scope, stream.key, EVENT)
        q = q.where(exp.and_(*conds, copy=False), copy=False).group_by(key.copy(), copy=False)
        alias = self._fresh(f"segql_c{len(self.own_aliases)}")
        self.own_aliases[shape] = alias
        self.order[alias] = (self._level(scope) - 1, 1, len(self.order))
        self.derived[alias] = q
        outer.derived.add(alias)
        return self.col("v", alias)

    def _sequence(self, node: ir.Sequence) -> Any:
        """``has A … [not] followed by B …`` (CONTRACT §5.3): an event a of A for which a
        correlated (NOT) EXISTS finds a b of B of the same contact, after a and by
        ``a.time + D2``; engines plan both as semi and anti joins. With HasPlan.IN_SET,
        the contact's key in the set of such a's keys (joined to the contact there when a
        condition reads it)."""
        exp = self.exp
        ent = self.schema.entity
        first = self.schema.streams[node.stream]
        later = self.schema.streams[node.then]
        a_alias, b_alias = f"h{self._exists_count}", f"h{self._exists_count + 1}"
        self._exists_count += 2
        # reading the contact inside the inner EXISTS is two levels out: where an engine
        # cannot, the contact is joined inside and its key tested IN the set of a's keys
        in_set = self.p.caps.has_plan is HasPlan.IN_SET or (
            not self.p.caps.deep_correlation and correlated(node)
        )
        own = in_set and correlated(node)
        outer = self.scope
        scope = Scope() if own else outer
        self.scope = scope
        filters = definitions(self.schema).filters
        try:
            a_time = self.p.timestamp_column(self.col(first.time, a_alias))
            a_conds = [exp.LTE(this=a_time, expression=self.ts(self.as_of))]
            if not in_set:
                a_conds.insert(
                    0,
                    exp.EQ(this=self.col(first.key, a_alias), expression=self.col(ent.key, ENTITY)),
                )
            with self._event_alias(a_alias):
                if (filt := filters.get(node.stream)) is not None:
                    a_conds.append(exp.Paren(this=self.expr(filt, node.stream)))
                if node.where is not None:
                    a_conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
            if node.within is not None:
                since = self.ts(self._ago(node.within))
                a_conds.append(exp.GTE(this=a_time.copy(), expression=since))
            b_time = self.p.timestamp_column(self.col(later.time, b_alias))
            b_conds = [
                exp.EQ(this=self.col(later.key, b_alias), expression=self.col(first.key, a_alias)),
                exp.GT(this=b_time, expression=a_time.copy()),
                exp.LTE(this=b_time.copy(), expression=self.ts(self.as_of)),
            ]
            with self._event_alias(b_alias), self._prior_alias(a_alias):
                if node.then_within is not None:
                    at = ir.PriorField(
                        stream=first.name,
                        name=first.time,
                        column=first.time,
                        type=Type.TIMESTAMP,
                        span=node.span,
                    )
                    end = ir.Shift(
                        operand=at, duration=node.then_within, back=False, span=node.span
                    )
                    b_conds.append(
                        exp.LTE(this=b_time.copy(), expression=self.expr(end, node.then))
                    )
                if (filt := filters.get(node.then)) is not None:
                    b_conds.append(exp.Paren(this=self.expr(filt, node.then)))
                if node.then_where is not None:
                    b_conds.append(exp.Paren(this=self.expr(node.then_where, node.then)))
        finally:
            self.scope = outer
        found: Any = exp.Exists(
            this=exp.select(exp.Literal.number(1), copy=False)
            .from_(self.table(later.source, b_alias), copy=False)
            .where(exp.and_(*b_conds, copy=False), copy=False)
        )
        a_conds.append(exp.Not(this=found) if node.negated else found)
        picked = self.col(first.key, a_alias) if in_set else exp.Literal.number(1)
        sub = exp.select(picked, copy=False).from_(self.table(first.source, a_alias), copy=False)
        if own:
            sub = self._correlate(sub, scope, first.key, a_alias)
        sub = sub.where(exp.and_(*a_conds, copy=False), copy=False)
        if in_set:
            member = exp.In(this=self.col(ent.key, ENTITY), query=exp.Subquery(this=sub))
            return exp.Coalesce(this=exp.Paren(this=member), expressions=[self.p.false()])
        return exp.Exists(this=sub)

    @contextlib.contextmanager
    def _prior_alias(self, alias: str) -> Iterator[None]:
        old = self.prior_alias
        self.prior_alias = alias
        try:
            yield
        finally:
            self.prior_alias = old

    def _register_agg(self, node: ir.Agg | ir.Exists) -> Any:
        """Add an aggregate to its stream's pass (once: equal aggregates share a column);
        returns the joined column."""
        exp = self.exp
        s = self.streams.setdefault(node.stream, StreamAggs(name=node.stream))
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
        operand = None if isinstance(node, ir.Exists) else node.operand
        conditioned = node.where is not None or node.within is not None
        # An event condition holds no trait or segment, so its repr is small.
        cond_key = (repr(node.where), node.within) if conditioned else None
        key = (func, column, cond_key, repr(operand) if operand is not None else None)
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
        elif operand is not None:  # a calendar function of the field
            target = self.expr(operand, node.stream)
        elif func is not ir.AggFunc.COUNT:
            assert column is not None
            ftype = self._field_type(node.stream, column)
            target = self.typed_col(column, EVENT, ftype, node.span)
        alias = f"a{len(s.columns)}"
        s.columns[key] = PassAgg(
            alias=alias, func=func, target=target, cond=cond, cond_key=cond_key
        )
        return self.col(alias, s.alias())

    def _agg_sql(self, a: PassAgg, unconditional: bool) -> Any:
        return AGGREGATES[a.func](self, a.target, None if unconditional else a.cond)

    def _field_type(self, stream: str, column: str | None) -> Type:
        st = self.schema.streams[stream]
        for fd in st.fields.values():
            if fd.column == column:
                return fd.type
        return Type.TIMESTAMP

    def _ago(self, d: ir.Duration) -> dt.datetime:
        return timecalc.ago(self.as_of, d.amount, d.unit, self.tz, d.span)
