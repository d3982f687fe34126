"""Typed expressions to sqlglot nodes: literals, names, operators, windows; function
renderers come from :mod:`segql.backends.sql.functions`."""

import datetime as dt
import functools
from decimal import Decimal
from pathlib import Path
from typing import Any, assert_never

from segql.backends.sql.dialects import HasPlan, Profile
from segql.backends.sql.extremes import extreme
from segql.backends.sql.functions import FUNCTIONS
from segql.backends.sql.plan import (
    ENTITY,
    EXACT,
    Scope,
    SqlOptions,
    StreamAggs,
    correlated,
    never_null,
    profile_only,
    refuse,
)
from segql.backends.sql.thresholds import top_percent
from segql.core.diagnostics import NO_SPAN, Span
from segql.core.schema import Schema, Source
from segql.core.text import unsafe_char
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.ir.constant import constant_time
from segql.lang.ast import ArithOp, BoolOpKind, CmpOp, DurationUnit


@functools.lru_cache(maxsize=4096)
def _unsafe_name(name: str) -> str | None:
    """:func:`unsafe_char` of a name; a compile asks about the same few names often."""
    return unsafe_char(name)


# Each duration unit as the engines' interval unit and its multiple (weeks are 7 days and
# years 12 months, so that every engine clamps month ends the same way).
_INTERVAL_UNITS = {
    DurationUnit.SECOND: ("SECOND", 1),
    DurationUnit.MINUTE: ("MINUTE", 1),
    DurationUnit.HOUR: ("HOUR", 1),
    DurationUnit.DAY: ("DAY", 1),
    DurationUnit.WEEK: ("DAY", 7),
    DurationUnit.MONTH: ("MONTH", 1),
    DurationUnit.YEAR: ("MONTH", 12),
}
_EXACT_UNITS = frozenset({DurationUnit.SECOND, DurationUnit.MINUTE, DurationUnit.HOUR})


class ExpressionCompiler:
    """The expression half of the compiler (the query half is
    :class:`~segql.backends.sql.compiler.Compiler`, which subclasses this)."""

    exp: Any  # sqlglot's expression module, imported when the compiler is made
    p: Profile
    schema: Schema
    as_of: dt.datetime
    tz: dt.tzinfo
    zone: str
    options: SqlOptions
    derived: dict[str, Any]
    order: dict[str, tuple[int, int, int]]
    window_aliases: dict[int, str]
    scalars: set[str]  # CTEs of one row, read by scalar subqueries: never joined
    shapes: dag.Shapes
    shared: dict[int, tuple[str, str]]
    scope: Scope
    event_alias: str
    prior_alias: str
    file_tables: dict[str, str]
    at_aliases: dict[int, str]
    grid_top: dt.datetime | None

    # --- provided by the query half -----------------------------------------------------
    def query(self, texpr: ir.TExpr) -> Any:
        raise NotImplementedError

    def _exists(self, node: ir.Exists) -> Any:
        raise NotImplementedError

    def _at_time(self, node: ir.AtTime) -> Any:
        raise NotImplementedError

    def first_within(self, node: ir.Within) -> Any | None:
        raise NotImplementedError

    def _register_agg(self, node: ir.Agg | ir.Exists) -> Any:
        raise NotImplementedError

    def _join_aggs(
        self, select: Any, inner: frozenset[str] = frozenset(), only: set[str] | None = None
    ) -> Any:
        raise NotImplementedError

    def _join_derived(self, select: Any, scope: Scope) -> Any:
        raise NotImplementedError

    def _join(self, select: Any, alias: str, *, inner: bool, key: Any = None) -> Any:
        raise NotImplementedError

    streams: dict[str, StreamAggs]

    def _fits(self, select: Any) -> None:
        raise NotImplementedError

    def _level(self, scope: Scope) -> int:
        raise NotImplementedError

    def _fresh(self, alias: str) -> str:
        raise NotImplementedError

    def _ago(self, d: ir.Duration) -> dt.datetime:
        raise NotImplementedError

    def _pick(self, node: ir.Agg) -> Any:
        raise NotImplementedError

    def _own_query(self, node: ir.Agg | ir.Exists) -> Any:
        raise NotImplementedError

    def _sequence(self, node: ir.Sequence) -> Any:
        raise NotImplementedError

    # --- helpers ----------------------------------------------------------------------
    def ident(self, name: str) -> Any:
        bad = _unsafe_name(name)
        if bad is not None:
            raise refuse(
                "invalid-character",
                f"the name `{name.encode('unicode_escape').decode('ascii')}` contains {bad}, "
                "which SQL text cannot carry",
                NO_SPAN,
                "rename the table or column in the schema",
            )
        return self.exp.Identifier(this=name, quoted=True)

    def col(self, name: str, table: str) -> Any:
        return self.exp.Column(this=self.ident(name), table=self.ident(table))

    def table(self, src: Source, alias: str) -> Any:
        exp = self.exp
        if src.table is not None and src.table in self.options.sources:
            node = self.options.sources[src.table].copy()
        elif src.file is not None and str(src.file) in self.options.sources:
            node = self.options.sources[str(src.file)].copy()
        elif src.table is not None:
            if src.reserved:  # a schema built in code (the checker reports a file's)
                message = f"the table `{src.table}` is named like segql's CTEs"
                raise refuse("reserved-table", message, NO_SPAN, src.reserved_hint)
            node = self.qualified(src.table)
        elif src.file is not None and self.p.caps.reads_files:
            reader = "read_csv_auto" if src.file.suffix.lower() == ".csv" else "read_parquet"
            path = self.lit(str(src.file), NO_SPAN)
            node = exp.Anonymous(this=reader, expressions=[path])
        else:
            assert src.file is not None
            node = exp.Table(this=self.ident(self._file_table(src.file)))
        if not isinstance(node, exp.Table):
            node = exp.Table(this=node)
        node.set("alias", exp.TableAlias(this=self.ident(alias)))
        return node

    def qualified(self, name: str) -> Any:
        """A table by name: ``crm.customers`` is table ``customers`` in schema ``crm`` (and
        ``a.b.c`` adds a catalog), each part quoted."""
        parts = name.split(".")
        kw: dict[str, Any] = {"this": self.ident(parts[-1])}
        if len(parts) >= 2:
            kw["db"] = self.ident(parts[-2])
        if len(parts) == 3:
            kw["catalog"] = self.ident(parts[0])
        return self.exp.Table(**kw)

    def _file_table(self, path: Path) -> str:
        """The table a ``file:`` source stands for in a database: the file's name without
        its suffix (``data/orders.parquet`` -> ``orders``), as a warehouse load names it."""
        name = path.stem
        shown = self.ident(name).sql(dialect=self.p.sqlglot_name)
        other = self.file_tables.get(shown)
        if other is not None and other != path.name:
            first, second = sorted((other, path.name))  # the same words whatever the plan
            raise refuse(
                "file-source",
                f"two file sources, `{first}` and `{second}`, would both be table `{name}` "
                f"in {self.p.name} SQL",
                Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1),
                "give one of them a `table:` naming its table in the database",
            )
        self.file_tables[shown] = path.name
        return name

    def ts(self, value: dt.datetime) -> Any:
        return self.p.timestamp_literal(value)

    def lit(self, value: object, span: Span) -> Any:
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
                raise refuse(
                    "invalid-character", f"this string contains {bad}, which SQL cannot carry", span
                )
            return exp.Literal.string(value)
        if isinstance(value, dt.datetime):
            return self.ts(value)
        if isinstance(value, dt.date):
            return self.p.date_literal(value)
        raise refuse("unsupported-construct", f"cannot write {value!r} as SQL", span)

    def typed_col(self, column: str, table: str, t: Type, span: Span) -> Any:
        c = self.col(column, table)
        if t is Type.TIMESTAMP:
            return self.p.timestamp_column(c)
        if t is Type.DATE:
            return self.p.date_column(c)
        if t.is_list and not self.p.caps.lists:
            raise refuse(
                "unsupported-construct",
                f"list fields cannot be used with {self.p.title}: it has no list type that "
                "can be null",
                span,
                "use duckdb, postgres or spark, or model the list as an event stream",
            )
        return c

    # --- expressions ------------------------------------------------------------------
    def expr(self, node: ir.TExpr, stream: str | None) -> Any:
        exp = self.exp
        if self.shared and stream is None:
            hit = self.shared.get(id(node))
            if hit is not None:
                self.scope.derived.add(hit[0])
                return self.col(hit[1], hit[0])
        match node:
            case ir.Lit(value=v):
                return self.lit(v, node.span)
            case ir.Field(column=c, type=t):
                return self.typed_col(c, ENTITY, t, node.span)
            case ir.EventField(column=c, type=t):
                return self.typed_col(c, self.event_alias, t, node.span)
            case ir.PriorField(column=c, type=t):
                return self.typed_col(c, self.prior_alias, t, node.span)
            case ir.Now():
                return self.ts(self.as_of)
            case ir.Today():
                return self.ts(timecalc.today(self.as_of, self.tz, node.span))
            case ir.Ago(duration=d):
                return self.ts(self._ago(d))
            case ir.DateToTimestamp(operand=o):
                if isinstance(o, ir.Lit) and isinstance(o.value, dt.date):
                    return self.ts(timecalc.date_to_timestamp(o.value, self.tz, o.span))
                self.need_zones(node.span)
                return self.p.date_to_timestamp(self.expr(o, stream), self.zone)
            case ir.Shift():
                return self._shift(node, stream)
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
                return self.compare(op, self.operand(x, stream), self.operand(y, stream))
            case ir.Between(operand=o, low=lo, high=hi):
                return exp.Between(
                    this=self.operand(o, stream),
                    low=self.operand(lo, stream),
                    high=self.operand(hi, stream),
                )
            case ir.InList(operand=o, items=items, negated=neg):
                if not items:
                    return self.p.true() if neg else self.p.false()
                inx = self.p.in_list(
                    self.operand(o, stream), [self.operand(i, stream) for i in items]
                )
                return exp.Not(this=inx) if neg else inx
            case ir.IsNull(operand=o, negated=neg):
                isn = exp.Is(this=self.operand(o, stream), expression=exp.null())
                return exp.Not(this=isn) if neg else isn
            case ir.StrMatch():
                return self._str_match(node, stream)
            case ir.ListContains(list=lst, item=item):
                # A null item is unknown, as any comparison with null (DuckDB's
                # list_contains answers false for an empty list, null otherwise).
                if isinstance(item, ir.Lit):
                    if item.value is None:
                        self.expr(lst, stream)  # a dialect without lists still refuses
                        return exp.cast(exp.Null(), "BOOLEAN")
                    return self.p.list_contains(self.expr(lst, stream), self.operand(item, stream))
                value = self.operand(item, stream)
                return exp.Case(
                    ifs=[exp.If(this=exp.Is(this=value, expression=exp.Null()), true=exp.Null())],
                    default=self.p.list_contains(self.expr(lst, stream), value.copy()),
                )
            case ir.Within(operand=o, duration=d):
                first = self.first_within(node) if stream is None else None
                if first is not None:
                    return first
                return exp.Between(
                    this=self.operand(o, stream),
                    low=self.ts(self._ago(d)),
                    high=self.ts(self.as_of),
                )
            case ir.Func():
                return FUNCTIONS[node.func](self, node, stream)
            case ir.Agg(func=f):
                if f is ir.AggFunc.MEDIAN and not self.p.caps.median:
                    raise refuse(
                        "unsupported-construct",
                        f"{self.p.title} has no median aggregate",
                        node.span,
                        "use duckdb, postgres, spark or clickhouse",
                    )
                if f in ir.PICKS:
                    return self._pick(node)
                column = self._own_query(node) if correlated(node) else self._register_agg(node)
                if f in (ir.AggFunc.COUNT, ir.AggFunc.COUNT_DISTINCT, ir.AggFunc.SUM):
                    return exp.Coalesce(this=column, expressions=[exp.Literal.number(0)])
                return column
            case ir.Exists():
                batch = self.options.every_contact
                if self.p.caps.has_plan is not HasPlan.COUNTED and not batch:
                    return self._exists(node)
                if correlated(node):
                    found = extreme(node)
                    if found is not None:  # the largest (smallest) F against X
                        agg, op, x = found
                        test = self.compare(op, self._own_query(agg), self.operand(x, stream))
                        return exp.Coalesce(this=exp.Paren(this=test), expressions=[self.p.false()])
                    # its own query: the contact's key when it has one
                    return exp.Not(this=exp.Is(this=self._own_query(node), expression=exp.null()))
                # Counted in the stream's pass (one grouped scan, hash-joined): engines
                # whose planners run a correlated (NOT) EXISTS as a per-contact loop.
                zero = exp.Literal.number(0)
                count = exp.Coalesce(this=self._register_agg(node), expressions=[zero])
                return exp.GT(this=count, expression=zero.copy())
            case ir.Sequence():
                return self._sequence(node)
            case ir.Classify(conditions=conds, names=names, otherwise=other):
                # WHEN takes only a true condition: unknown falls through, as specified
                ifs = [
                    exp.If(this=self.expr(c, stream), true=self.lit(n, node.span))
                    for c, n in zip(conds, names, strict=True)
                ]
                default = self.lit(other, node.span) if other is not None else None
                return exp.Case(ifs=ifs, default=default)
            case ir.AtTime():
                return self._at_time(node)
            case ir.IsTrue(operand=o):
                return exp.Coalesce(
                    this=exp.Paren(this=self.expr(o, stream)), expressions=[self.p.false()]
                )
            case ir.Percentile(operand=o):
                return self._window(node, o, None)
            case ir.TopPercent(percent=pct, operand=o):
                if self.p.caps.materialized_ctes and self.options.batch:
                    return top_percent(self, node, stream)
                return self._window(node, o, pct)
            case _:
                assert_never(node)

    def compare(self, op: CmpOp, left: Any, right: Any) -> Any:
        exp = self.exp
        cls = {
            CmpOp.EQ: exp.EQ,
            CmpOp.NE: exp.NEQ,
            CmpOp.LT: exp.LT,
            CmpOp.LE: exp.LTE,
            CmpOp.GT: exp.GT,
            CmpOp.GE: exp.GTE,
        }[op]
        return cls(this=left, expression=right)

    def operand(self, node: ir.TExpr, stream: str | None) -> Any:
        e = self.expr(node, stream)
        if isinstance(e, self.exp.Binary | self.exp.Predicate | self.exp.Not):
            return self.exp.Paren(this=e)
        return e

    def _shift(self, node: ir.Shift, stream: str | None) -> Any:
        """A time moved by a duration: a literal when it reads no data (the same SQL for
        the same as_of), else the engine's interval arithmetic — on the wall clock of the
        schema zone for days and longer."""
        fixed = constant_time(node, self.as_of, self.tz)
        if isinstance(fixed, dt.datetime):
            return self.ts(fixed)
        d = node.duration
        unit, amount = _INTERVAL_UNITS[d.unit]
        amount *= d.amount
        ts = self.expr(node.operand, stream)
        calendar = d.unit not in _EXACT_UNITS
        if calendar and self.zone != "UTC":
            self.need_zones(node.span)
            ts = self.p.local_of_utc(ts, self.zone)
        moved = self.p.shift_time(ts, -amount if node.back else amount, unit)
        if moved is None:
            raise refuse(
                "unsupported-construct",
                f"{self.p.title} cannot move a stored time by `{d}` as segql specifies "
                "(months that end early are not clamped there)",
                node.span,
                "use duckdb, postgres, spark or clickhouse",
            )
        if calendar and self.zone != "UTC":
            moved = self.p.utc_of_local(moved, self.zone)
        return moved

    def need_zones(self, span: Span) -> None:
        if self.zone != "UTC" and not self.p.caps.time_zones:
            raise refuse(
                "unsupported-construct",
                f"{self.p.name} has no time zone support, and this needs the calendar of "
                f"{self.zone}",
                span,
                "use a UTC schema for SQLite, or another dialect",
            )

    def _arith(self, node: ir.Arith, stream: str | None) -> Any:
        exp = self.exp
        x = self.operand(node.left, stream)
        y = self.operand(node.right, stream)
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
            if not self.p.caps.float_modulo and node.type is not Type.INTEGER:
                raise refuse(
                    "unsupported-construct",
                    f"{self.p.title}'s `%` only works on whole numbers",
                    node.span,
                )
            return exp.Mod(this=x, expression=exp.Nullif(this=y, expression=exp.Literal.number(0)))
        cls = {ArithOp.ADD: exp.Add, ArithOp.SUB: exp.Sub, ArithOp.MUL: exp.Mul}[node.op]
        return cls(this=x, expression=y)

    def _str_match(self, node: ir.StrMatch, stream: str | None) -> Any:
        exp = self.exp
        s = self.operand(node.left, stream)
        t = self.operand(node.right, stream)
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

    def local(self, node: ir.TExpr, stream: str | None) -> Any:
        """A date, or the wall-clock time in the schema zone of a timestamp."""
        e = self.expr(node, stream)
        if node.type is Type.TIMESTAMP:
            self.need_zones(node.span)
            return self.p.local_of_utc(e, self.zone)
        return e

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
        self.scope = scope = Scope()
        x = self.expr(operand, None)
        nullable = not never_null(operand)  # nulls are not ranked
        present = exp.Not(this=exp.Is(this=x.copy(), expression=exp.null())) if nullable else None
        order = exp.Order(expressions=[exp.Ordered(this=x)])
        tiles = node.tiles if isinstance(node, ir.Percentile) else None
        if tiles is not None:
            # ties by the key in binary order: the same groups on every engine
            ent = self.schema.entity
            declared = ent.fields.get(ent.key)
            key_type = declared.type if declared is not None else Type.INTEGER
            key_col = self.p.binary(self.col(ent.key, ENTITY), key_type)
            order = exp.Order(expressions=[exp.Ordered(this=x.copy()), exp.Ordered(this=key_col)])
            value: Any = exp.Window(
                this=exp.Anonymous(this="NTILE", expressions=[exp.Literal.number(tiles)]),
                order=order,
            )
        elif top is None:
            rank: Any = exp.Window(this=exp.PercentRank(), order=order)
            value = exp.Mul(this=exp.Literal.number("100.0"), expression=rank)
        else:
            r = exp.Window(this=exp.Anonymous(this="RANK"), order=order)
            n = self._population_size(operand, nullable, bool(scope.derived))
            need = EXACT.subtract(Decimal(100), top)  # not the thread's 28 digits
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
        order = (self._level(scope) - 1, 1, len(self.order))
        return self.col("v", self._derive(self.window_aliases, "p", shape, q, order, outer))

    def _derive(
        self,
        aliases: dict[int, str],
        prefix: str,
        shape: int,
        query: Any,
        order: tuple[int, int, int],
        outer: Scope,
    ) -> str:
        """``query`` as a CTE of its own (``segql_<prefix>N``, found again by ``shape`` in
        ``aliases``), placed by ``order`` after what it reads and joined on the key by
        ``outer``, the scope that reads it; returns its alias."""
        alias = self._fresh(f"segql_{prefix}{len(aliases)}")
        while alias in self.derived:  # (a history's points each have their own)
            alias += "_"
        aliases[shape] = alias
        self.order[alias] = order
        self.derived[alias] = query
        outer.derived.add(alias)
        return alias

    def _population_size(self, operand: ir.TExpr, nullable: bool, joined: bool) -> Any:
        """How many contacts have a value: a scalar subquery where one can say it (DuckDB
        computes an unpartitioned ``COUNT(*) OVER ()`` on one thread: top10_consent
        0.44 s -> 0.31 s), else a window count over the CTE's rows (also when the value
        reads another CTE, which the subquery would not join)."""
        exp = self.exp
        ent = self.schema.entity
        if joined or (nullable and not profile_only(operand)):
            return exp.Window(this=exp.Count(this=exp.Star()))
        # Never null, or read from the profile alone: count it in the entity table.
        counted = exp.Star() if not nullable else self.expr(operand, None)
        return exp.Subquery(
            this=exp.select(exp.Count(this=counted), copy=False).from_(
                self.table(ent.source, ENTITY), copy=False
            )
        )
