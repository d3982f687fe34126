"""The queries over one stream's events that are not the stream's grouped pass: `has` as
a correlated EXISTS (or a set of keys), sequences, values picked from one event
(first_value, last_value, mode), aggregates whose condition reads the contact, and values
at another instant (an experiment's audience and goal)."""

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from segql.backends.sql.dialects import HasPlan
from segql.backends.sql.expressions import ExpressionCompiler
from segql.backends.sql.functions import AGGREGATES
from segql.backends.sql.plan import (
    ENTITY,
    EVENT,
    Scope,
    SqlOptions,
    conjuncts,
    correlated,
    reads_event,
)
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang.ast import BoolOpKind, CmpOp


class EventQueries(ExpressionCompiler):
    """The event-level queries of :class:`~segql.backends.sql.compiler.Compiler`."""

    pick_aliases: dict[int, str]
    own_aliases: dict[int, str]
    _exists_count: int

    def seen(self, time: Any) -> list[Any]:
        """The conditions on an event's time: at or before as_of and, when the query
        looks at a window of time only (an experiment's goal, CONTRACT §6.5), after
        ``since``."""
        exp = self.exp
        conds = [exp.LTE(this=time, expression=self.ts(self.as_of))]
        if self.options.since is not None:
            conds.append(exp.GT(this=time.copy(), expression=self.ts(self.options.since)))
        return conds

    def latest_test(self, node: ir.Exists, since: dt.datetime | None) -> Any | None:
        """``has E within D`` counted in E's pass, as a test of the time of E's latest
        event: an event lies in ``[bound, as_of]`` exactly when the latest one does. Also
        when ``where`` only bounds the event's time from below (``ordered_at >= X``, X not
        reading the event). Every such ``has`` and ``last(E)`` share one MAX instead of a
        count each (the batch's orders pass: two conditional counts fewer, docs/performance.md).
        None when the condition is anything else."""
        exp = self.exp
        stream = self.schema.streams[node.stream]
        bounds: list[ir.TExpr] = []
        if node.where is not None:
            for c in conjuncts(node.where):
                if not (isinstance(c, ir.Compare) and _lower_bound(c, stream.time)):
                    return None
                bounds.append(c)
        if since is None and not bounds:
            return None
        time = self.p.timestamp_column(self.col(stream.time, EVENT))
        latest = exp.Max(this=time)
        tests: list[Any] = []
        if since is not None:
            tests.append(exp.GTE(this=latest, expression=self.ts(since)))
        for c in bounds:
            sql = self.expr(c, node.stream)
            for n in [n for n in sql.find_all(type(time)) if n == time]:
                n.replace(exp.Max(this=n.copy()))
            tests.append(sql)
        return exp.and_(*tests, copy=False)

    def first_within(self, node: ir.Within) -> Any | None:
        """``first(E [where C]) within D`` in E's pass, as two counts instead of a MIN of
        the time: E's events (C) exist, and none is before ``as_of - D`` — null without
        events, as the first time is. A conditional count costs the pass less than a MIN
        (the batch's orders pass: 0.11 s less on 20M orders, docs/performance.md); in a
        history the grid keeps the MIN (one partial for every point). None otherwise."""
        agg = node.operand
        if not (
            isinstance(agg, ir.Agg)
            and agg.func is ir.AggFunc.FIRST
            and agg.operand is None
            and agg.within is None
            and self.grid_top is None
            and not correlated(agg)
        ):
            return None
        stream = self.schema.streams[agg.stream]
        time = ir.EventField(
            stream=agg.stream, name=stream.time, column=stream.time, type=Type.TIMESTAMP
        )
        earlier = ir.Compare(op=CmpOp.LT, left=time, right=ir.Ago(duration=node.duration))
        where = (
            earlier
            if agg.where is None
            else ir.BoolOp(op=BoolOpKind.AND, operands=(agg.where, earlier))
        )
        exp = self.exp
        zero = exp.Literal.number(0)

        def count(cond: ir.TExpr | None) -> Any:
            events = ir.Agg(
                func=ir.AggFunc.COUNT,
                stream=agg.stream,
                column=None,
                where=cond,
                within=None,
                type=Type.INTEGER,
            )
            return self.expr(events, None)

        seen = exp.GT(this=count(agg.where), expression=zero)
        none_before = exp.EQ(this=count(where), expression=zero.copy())
        return exp.Case(ifs=[exp.If(this=seen, true=none_before)])

    def _at_time(self, node: ir.AtTime) -> Any:
        """A value at another instant: every contact's value, from a query of its own
        compiled at that as_of (its own passes), as a CTE joined on the key."""
        alias = self.at_aliases.get(id(node))
        if alias is None:
            exp = self.exp
            options = SqlOptions(
                sources=self.options.sources,
                select=(("v", node.operand),),
                batch=True,
                since=node.since,
            )
            sub = type(self)(self.schema, self.p, node.as_of, options)  # type: ignore[call-arg]
            inner = sub.query(ir.Lit(value=True, type=Type.BOOLEAN))
            self.file_tables.update(sub.file_tables)
            n = len(self.at_aliases)
            _rename_ctes(inner, f"_at{len(self.derived)}")
            query = exp.select(
                exp.alias_(self.col(self.schema.entity.key, "m"), "k", quoted=True, copy=False),
                exp.alias_(self.col("v", "m"), "v", quoted=True, copy=False),
                copy=False,
            ).from_(exp.alias_(exp.Subquery(this=inner), "m", table=True, quoted=True), copy=False)
            alias = self._derive(self.at_aliases, "at", id(node), query, (0, 2, n), self.scope)
        else:
            self.scope.derived.add(alias)
        return self.col("v", alias)

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
        conds = self.seen(time)
        if not in_set:
            conds.insert(
                0,
                exp.EQ(
                    this=self.col(stream.key, alias),
                    expression=self.col(self.schema.entity.key, ENTITY),
                ),
            )
        filt = definitions(self.schema).filters.get(node.stream)
        # What a condition reading the contact needs (CONTRACT §5.3) is joined inside the
        # subquery on the event's key (above_own_avg at 1M contacts: 0.23 s reading a
        # pass joined to the outer query, 0.17 s joined inside; hand plans 0.18 s)
        outer = self.scope
        self.scope = scope = Scope()
        try:
            with self._event_alias(alias):
                if filt is not None:
                    conds.append(exp.Paren(this=self.expr(filt, node.stream)))
                if node.where is not None:
                    conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
        finally:
            self.scope = outer
        if node.within is not None:
            conds.append(exp.GTE(this=time.copy(), expression=self.ts(self._ago(node.within))))
        picked = self.col(stream.key, alias) if in_set else exp.Literal.number(1)
        sub = exp.select(picked, copy=False).from_(self.table(stream.source, alias), copy=False)
        if in_set and correlated(node):  # the contact itself is not in scope there
            sub = self._correlate(sub, scope, stream.key, alias)
        else:
            key = self.col(stream.key, alias)
            for s in self.streams.values():
                if s.name in scope.streams:
                    sub = self._join(sub, s.alias(), inner=False, key=key)
            for a in sorted(scope.derived, key=self.order.__getitem__):
                sub = self._join(sub, a, inner=False, key=key)
            self._fits(sub)
        sub = sub.where(exp.and_(*conds, copy=False), copy=False)
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
            *self.seen(time),
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
        # reads only the stream: before every shared level and ranking; else after what
        # its condition reads
        place = (
            (self._level(scope) - 1, 1, len(self.order))
            if correlated(node)
            else (0, 0, len(self.pick_aliases) + 1)
        )
        return self.col("v", self._derive(self.pick_aliases, "v", shape, q, place, outer))

    def _correlate(self, q: Any, scope: Scope, key: str, alias: str, contact: bool = True) -> Any:
        """``q`` over events (as ``alias``) joined to their contact and to what ``scope``
        reads of the contact: passes and derived CTEs, joined on the contact's key. Without
        ``contact`` (the condition reads no profile field) the entity table is left out and
        the CTEs join on the event's key."""
        exp = self.exp
        ent = self.schema.entity
        if not contact:
            on_key = self.col(key, alias)
            for s in self.streams.values():
                if s.name in scope.streams:
                    q = self._join(q, s.alias(), inner=False, key=on_key)
            for a in sorted(scope.derived, key=self.order.__getitem__):
                q = self._join(q, a, inner=False, key=on_key)
            self._fits(q)
            return q
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
        conds: list[Any] = self.seen(time)
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
            if node.where is not None:  # (none: a largest value, backends/sql/extremes.py)
                conds.append(exp.Paren(this=self.expr(node.where, node.stream)))
        finally:
            self.scope = outer
        key = self.col(stream.key, EVENT)
        q = exp.select(
            exp.alias_(key, "k", quoted=True, copy=False),
            exp.alias_(AGGREGATES[func](self, target, None), "v", quoted=True, copy=False),
            copy=False,
        ).from_(self.table(stream.source, EVENT), copy=False)
        # the contacts table only when the condition, as written, reads it
        reads = {c.table for cond in conds for c in cond.find_all(exp.Column)}
        q = self._correlate(q, scope, stream.key, EVENT, contact=ENTITY in reads)
        q = q.where(exp.and_(*conds, copy=False), copy=False).group_by(key.copy(), copy=False)
        order = (self._level(scope) - 1, 1, len(self.order))
        return self.col("v", self._derive(self.own_aliases, "c", shape, q, order, outer))

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
        batch = self.options.batch  # a set of keys, joined once, not a probe per contact
        in_set = (
            batch
            or self.p.caps.has_plan is HasPlan.IN_SET
            or (not self.p.caps.deep_correlation and correlated(node))
        )
        own = in_set and correlated(node)
        outer = self.scope
        scope = Scope() if own else outer
        self.scope = scope
        filters = definitions(self.schema).filters
        try:
            a_time = self.p.timestamp_column(self.col(first.time, a_alias))
            a_conds = self.seen(a_time)
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
                *self.seen(b_time.copy()),
            ]
            if node.within is not None:
                # implied (b after a, a within D), and a constant: the engine can skip
                # the older part of B's log before joining
                b_conds.append(exp.GT(this=b_time.copy(), expression=since.copy()))
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
        if batch:
            return self._key_set(node, sub, self.col(first.key, a_alias), scope if own else None)
        if in_set:
            member = exp.In(this=self.col(ent.key, ENTITY), query=exp.Subquery(this=sub))
            return exp.Coalesce(this=exp.Paren(this=member), expressions=[self.p.false()])
        return exp.Exists(this=sub)

    def _key_set(self, node: ir.TExpr, sub: Any, key: Any, scope: Scope | None) -> Any:
        """In a batch (every contact's value): the keys ``sub`` selects as a CTE of their own,
        LEFT-joined on the key like a ranking — true where the contact's key is there."""
        exp = self.exp
        shape = self.shapes[node]
        outer = self.scope
        alias = self.own_aliases.get(shape)
        if alias is None:
            q = sub.select(exp.alias_(exp.Literal.number(1), "v", quoted=True), copy=False)
            q.set("expressions", [exp.alias_(key.copy(), "k", quoted=True), q.expressions[-1]])
            q = q.group_by(key.copy(), copy=False)
            level = self._level(scope) - 1 if scope is not None else 0
            alias = self._derive(
                self.own_aliases, "c", shape, q, (level, 1, len(self.order)), outer
            )
        else:
            outer.derived.add(alias)
        return exp.Not(this=exp.Is(this=self.col("v", alias), expression=exp.null()))

    @contextlib.contextmanager
    def _prior_alias(self, alias: str) -> Iterator[None]:
        old = self.prior_alias
        self.prior_alias = alias
        try:
            yield
        finally:
            self.prior_alias = old

    def _field_type(self, stream: str, column: str | None) -> Type:
        st = self.schema.streams[stream]
        for fd in st.fields.values():
            if fd.column == column:
                return fd.type
        return Type.TIMESTAMP


def _rename_ctes(query: Any, suffix: str) -> None:
    """Give a nested query's CTEs names of their own: engines that allow no nested WITH
    (Spark) have them moved to the top, beside the outer query's of the same name."""
    from sqlglot import exp

    names = {cte.alias for cte in query.ctes}
    for ident in list(query.find_all(exp.Identifier)):
        if ident.name not in names:
            continue
        if isinstance(ident.parent, exp.Column) and ident.arg_key == "this":
            continue  # a column that happens to be called so
        ident.set("this", ident.name + suffix)


def _lower_bound(c: ir.Compare, time: str) -> bool:
    """Whether ``c`` is ``<time> >= X`` or ``<time> > X`` (either way round), X not
    reading the event: true of an event exactly when true of any later one."""
    for t, x, ops in (
        (c.left, c.right, (CmpOp.GE, CmpOp.GT)),
        (c.right, c.left, (CmpOp.LE, CmpOp.LT)),
    ):
        if c.op in ops and isinstance(t, ir.EventField) and t.column == time and not reads_event(x):
            return True
    return False
