"""Membership kept in the user's database as intervals (CONTRACT §6.4): `snapshot` writes
who is in each segment at an as_of, `changes` reads who entered and exited since a time.

The table holds ``(key, segment, valid_from, valid_to)``: one row per stretch of
membership, ``valid_to`` null while it lasts. A snapshot at ``T`` opens an interval at
``T`` for each member without an open one and closes at ``T`` each open interval whose key
is no longer a member. A second table, ``<table>_runs (segment, as_of)``, records every
snapshot taken, so an empty segment's snapshot counts too, the same as_of is never written
twice (idempotent) and an earlier one is refused (the intervals would no longer tell the
truth). Membership is computed by the engine and written with ``INSERT … SELECT``: no
member passes through Python. Every statement is one sqlglot tree, every name quoted; a
whole run is one transaction (see docs/snapshots.md)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from segql.backends.sql.dialects import Profile
from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc

__all__ = ["PAUSE_ENV", "TABLE", "Target", "changes", "snapshot", "targets_of"]

TABLE = "segql_membership"
COLUMNS = ("key", "segment", "valid_from", "valid_to")
RUN_COLUMNS = ("segment", "as_of")
# Test-only: seconds to sleep after every write of a snapshot, before its commit, so a
# test can kill the process inside the transaction (tests/test_snapshot.py).
PAUSE_ENV = "SEGQL_TEST_PAUSE_BEFORE_COMMIT"
_MEMBERS = "segql_snapshot_members"  # the temporary table of one run's membership

Run = Callable[[str], list[Any]]  # runs one statement inside the transaction


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One value of the ``segment`` column: a segment, a named expression, or one class
    of a segmentation (``value_class=good``), read from membership column ``column``."""

    label: str
    column: int
    cls: str | None = None


def targets_of(
    schema: Schema, specs: Sequence[str]
) -> tuple[list[tuple[str, ir.TExpr]], list[Target]]:
    """The membership values to compute (as ``c0, c1, …``) and the segments they fill:
    ``@segment``, ``@segmentation`` (one segment per class) or ``EXPR as NAME``."""
    from segql.engines.selection import _AS, membership_values

    values: list[tuple[str, ir.TExpr]] = []
    out: list[Target] = []
    for spec in specs:
        text = spec.strip()
        i = len(values)
        m = _AS.match(text)
        if text.startswith("@"):
            ((name, value),) = membership_values(schema, [text])
            values.append((f"c{i}", value))
            if isinstance(value, ir.Classify):
                classes = (*value.names, *(() if value.otherwise is None else (value.otherwise,)))
                out += [Target(label=f"{name}={c}", column=i, cls=c) for c in classes]
            else:
                out.append(Target(label=name, column=i))
        elif m is not None:
            from segql.checker import typed

            name = m.group("name")
            name = name[1:-1].replace("``", "`") if name.startswith("`") else name
            cond = typed(m.group("expr"), schema)
            values.append((f"c{i}", ir.IsTrue(operand=cond, segment=name)))
            out.append(Target(label=name, column=i))
        else:
            raise EngineError(
                Diagnostic(
                    code="snapshot-target",
                    message=f"`{text}` has no name to store its members under",
                    hints=(
                        "give a catalog segment (`@vip`), a segmentation (`@value_class`) "
                        "or a named expression (`purchases > 3 as buyers`)",
                    ),
                )
            )
    labels = [t.label for t in out]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise EngineError(
            Diagnostic(
                code="snapshot-target",
                message=f"`{twice[0]}` is named twice in one snapshot",
            )
        )
    if not out:
        raise EngineError(Diagnostic(code="snapshot-target", message="no segment to snapshot"))
    return values, out


def table_node(name: str, suffix: str = "") -> Any:
    """``name`` (``t``, ``s.t`` or ``c.s.t``) as a table, each part quoted; ``suffix``
    is added to the table's own name (the runs table)."""
    from sqlglot import exp

    parts = name.split(".")
    if not name or len(parts) > 3 or any(not p.strip() for p in parts):
        raise EngineError(
            Diagnostic(
                code="snapshot-table",
                message=f"`{name}` is not a table name",
                hints=("e.g. `segql_membership` or `crm.segql_membership`",),
            )
        )
    kw: dict[str, Any] = {"this": exp.to_identifier(parts[-1] + suffix, quoted=True)}
    if len(parts) >= 2:
        kw["db"] = exp.to_identifier(parts[-2], quoted=True)
    if len(parts) == 3:
        kw["catalog"] = exp.to_identifier(parts[0], quoted=True)
    return exp.Table(**kw)


_KEY_TYPES = {
    Type.INTEGER: "BIGINT",
    Type.STRING: "TEXT",
    Type.DECIMAL: "DECIMAL(38, 9)",
    Type.FLOAT: "DOUBLE",
    Type.BOOLEAN: "BOOLEAN",
    Type.DATE: "DATE",
    Type.TIMESTAMP: "TIMESTAMP",
}
_FAMILIES = {  # a column's engine type, by the words that name its kind
    "key": (),
    "segment": ("char", "text", "string"),
    "valid_from": ("timestamp", "datetime", "text"),
    "valid_to": ("timestamp", "datetime", "text"),
    "as_of": ("timestamp", "datetime", "text"),
}


def check_columns(name: str, have: dict[str, str] | None, wanted: Sequence[str]) -> bool:
    """Whether the table exists; raise when it has other columns than ``wanted``."""
    if have is None:
        return False
    names = {c.lower(): t for c, t in have.items()}
    wrong = [c for c in wanted if c not in names] or [c for c in names if c not in wanted]
    bad_type = [
        c
        for c in wanted
        if c in names and _FAMILIES[c] and not any(w in names[c].lower() for w in _FAMILIES[c])
    ]
    if wrong or bad_type:
        shown = ", ".join(f"{c} {t}" for c, t in have.items())
        raise EngineError(
            Diagnostic(
                code="snapshot-table",
                message=f"table `{name}` is not a segql membership table: it has ({shown}), "
                f"not ({', '.join(wanted)})",
                hints=(
                    "give another table with --table, or drop this one: segql creates it",
                    "valid_from, valid_to and as_of hold timestamps, segment text",
                ),
            )
        )
    return True


def _text(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sql:
    """The statements of one run, for one dialect."""

    profile: Profile
    render: Callable[[Any], str]
    table: Any
    runs: Any

    def col(self, name: str, table: str | None = None) -> Any:
        from sqlglot import exp

        return exp.column(name, table=table, quoted=True)

    def lit(self, v: str) -> Any:
        from sqlglot import exp

        return exp.Literal.string(v)

    def create(self, key_type: Type) -> list[str]:
        from sqlglot import exp

        ts = self.profile.timestamp_type()

        def kind(t: str) -> Any:
            return exp.DataType.build(t, dialect=self.profile.sqlglot_name)

        def defs(cols: list[tuple[str, Any, bool]]) -> Any:
            return exp.Schema(
                this=None,
                expressions=[
                    exp.ColumnDef(
                        this=exp.to_identifier(n, quoted=True),
                        kind=k,
                        constraints=[exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]
                        if required
                        else [],
                    )
                    for n, k, required in cols
                ],
            )

        if key_type not in _KEY_TYPES:
            raise EngineError(
                Diagnostic(
                    code="snapshot-table",
                    message=f"a key of type {key_type.value} cannot be kept in a table",
                )
            )
        main = [
            ("key", kind(_KEY_TYPES[key_type]), True),
            ("segment", kind("TEXT"), True),
            ("valid_from", ts.copy(), True),
            ("valid_to", ts.copy(), False),
        ]
        runs = [("segment", kind("TEXT"), True), ("as_of", ts.copy(), True)]
        out = []
        for table, cols in ((self.table, main), (self.runs, runs)):
            schema = defs(cols)
            schema.set("this", table.copy())
            out.append(self.render(exp.Create(this=schema, kind="TABLE", exists=True)))
        return out

    def last_runs(self, labels: Sequence[str], at: Any) -> str:
        """Per segment: its latest snapshot and whether one is at ``at``."""
        from sqlglot import exp

        seg = self.col("segment")
        hit = exp.Case(
            ifs=[
                exp.If(
                    this=exp.EQ(this=self.col("as_of"), expression=at.copy()),
                    true=exp.Literal.number(1),
                )
            ],
            default=exp.Literal.number(0),
        )
        q = (
            exp.select(seg, exp.Max(this=self.col("as_of")), exp.Sum(this=hit))
            .from_(self.runs.copy())
            .where(exp.In(this=seg.copy(), expressions=[self.lit(x) for x in labels]))
            .group_by(seg.copy())
        )
        return self.render(q)

    def members_table(self, batch: Any) -> str:
        from sqlglot import exp

        props = exp.Properties(expressions=[exp.TemporaryProperty()])
        node = exp.Create(
            this=exp.Table(this=exp.to_identifier(_MEMBERS, quoted=True)),
            kind="TABLE",
            expression=batch,
            properties=props,
        )
        return self.render(node)

    def drop_members(self) -> str:
        from sqlglot import exp

        return self.render(
            exp.Drop(
                tables=[exp.Table(this=exp.to_identifier(_MEMBERS, quoted=True))], kind="TABLE"
            )
        )

    def _is_member(self, target: Target, key: str) -> Any:
        from sqlglot import exp

        c = self.col(f"c{target.column}", _MEMBERS)
        if target.cls is None:
            return c
        return exp.EQ(this=c, expression=self.lit(target.cls))

    def write(self, target: Target, key: str, at: Any) -> list[str]:
        """Close the open intervals of keys that left, open one for each member without."""
        from sqlglot import exp

        seg = exp.EQ(this=self.col("segment"), expression=self.lit(target.label))
        open_ = exp.Is(this=self.col("valid_to"), expression=exp.Null())
        member_now = exp.select(exp.Literal.number(1)).from_(
            exp.Table(this=exp.to_identifier(_MEMBERS, quoted=True))
        )
        member_now = member_now.where(
            exp.and_(
                exp.EQ(this=self.col(key, _MEMBERS), expression=self.col("key", "t")),
                self._is_member(target, key),
            )
        )
        close = exp.Update(
            this=self.table.copy(),
            expressions=[exp.EQ(this=self.col("valid_to"), expression=at.copy())],
            where=exp.Where(this=exp.and_(seg, open_, exp.Not(this=exp.Exists(this=member_now)))),
        )
        # (an UPDATE's table is aliased `t` by a subquery alias; name it so instead)
        close.set("this", exp.alias_(self.table.copy(), "t", table=True))
        still_open = (
            exp.select(exp.Literal.number(1))
            .from_(exp.alias_(self.table.copy(), "o", table=True))
            .where(
                exp.and_(
                    exp.EQ(this=self.col("segment", "o"), expression=self.lit(target.label)),
                    exp.Is(this=self.col("valid_to", "o"), expression=exp.Null()),
                    exp.EQ(this=self.col("key", "o"), expression=self.col(key, _MEMBERS)),
                )
            )
        )
        opened = (
            exp.select(
                self.col(key, _MEMBERS),
                self.lit(target.label),
                at.copy(),
                exp.cast(exp.Null(), self.profile.timestamp_type()),
            )
            .from_(exp.Table(this=exp.to_identifier(_MEMBERS, quoted=True)))
            .where(
                exp.and_(self._is_member(target, key), exp.Not(this=exp.Exists(this=still_open)))
            )
        )
        columns = exp.Schema(
            this=self.table.copy(), expressions=[exp.to_identifier(c, quoted=True) for c in COLUMNS]
        )
        insert = exp.Insert(this=columns, expression=opened)
        run = exp.Insert(
            this=exp.Schema(
                this=self.runs.copy(),
                expressions=[exp.to_identifier(c, quoted=True) for c in RUN_COLUMNS],
            ),
            expression=exp.select(self.lit(target.label), at.copy()),
        )
        return [self.render(close), self.render(insert), self.render(run)]

    def sizes(self, labels: Sequence[str], at: Any) -> str:
        """Per segment at ``at``: members, entered at ``at``, exited at ``at``."""
        from sqlglot import exp

        def count(cond: Any) -> Any:
            return exp.Sum(
                this=exp.Case(
                    ifs=[exp.If(this=cond, true=exp.Literal.number(1))],
                    default=exp.Literal.number(0),
                )
            )

        frm, to = self.col("valid_from"), self.col("valid_to")
        inside = exp.and_(
            exp.LTE(this=frm.copy(), expression=at.copy()),
            exp.or_(
                exp.Is(this=to.copy(), expression=exp.Null()),
                exp.GT(this=to.copy(), expression=at.copy()),
            ),
        )
        q = (
            exp.select(
                self.col("segment"),
                count(inside),
                count(exp.EQ(this=frm.copy(), expression=at.copy())),
                count(exp.EQ(this=to.copy(), expression=at.copy())),
            )
            .from_(self.table.copy())
            .where(exp.In(this=self.col("segment"), expressions=[self.lit(x) for x in labels]))
            .group_by(self.col("segment"))
        )
        return self.render(q)


def _pause() -> None:
    raw = os.environ.get(PAUSE_ENV)
    if raw:
        print(f"segql: paused before commit ({PAUSE_ENV})", file=sys.stderr, flush=True)
        time.sleep(float(raw))


def snapshot(
    db: Any, schema: Schema, specs: Sequence[str], table: str, as_of: Any, timeout: float | None
) -> dict[str, Any]:
    """Write the membership of ``specs`` at ``as_of`` into ``table``, in one transaction;
    per segment: members at as_of, entered and exited at it, and whether it was written
    now (False: this as_of was taken before, nothing changed)."""
    from segql.engines.values import _key_type

    at_time = timecalc.normalize_as_of(as_of)
    values, targets = targets_of(schema, specs)
    labels = [t.label for t in targets]
    main, runs = table_node(table), table_node(table, "_runs")
    runs_name = f"{table}_runs"
    exists = check_columns(table, db._relation_columns(table), COLUMNS)
    if check_columns(runs_name, db._relation_columns(runs_name), RUN_COLUMNS) != exists:
        raise EngineError(
            Diagnostic(
                code="snapshot-table",
                message=f"of `{table}` and `{runs_name}`, only one exists",
                hints=("segql keeps the two together; give another table with --table",),
            )
        )
    sql = _Sql(profile=db.dialect, render=db._text, table=main, runs=runs)
    at = db.dialect.timestamp_literal(at_time)
    batch = db._batch(schema, at_time, values)  # compiled (and checked) before any write
    key = schema.entity.key

    def work(run: Run) -> tuple[list[Any], set[str]]:
        if not exists:
            for stmt in sql.create(_key_type(schema)):
                run(stmt)
        db._lock_table(run, main)
        done: dict[str, tuple[Any, int]] = {
            r[0]: (r[1], int(r[2] or 0)) for r in run(sql.last_runs(labels, at))
        }
        todo = [t for t in targets if not done.get(t.label, (None, 0))[1]]
        late = [
            (t.label, _utc(done[t.label][0]))
            for t in todo
            if t.label in done and _utc(done[t.label][0]) > at_time
        ]
        if late:
            raise EngineError(
                [
                    Diagnostic(
                        code="snapshot-order",
                        message=f"`{label}` was last snapshotted at "
                        f"{_text(last)}, after {_text(at_time)}",
                        hints=(
                            "snapshots go forward in time: take one at a later as_of (an "
                            "as_of already taken may be repeated, and changes nothing)",
                        ),
                    )
                    for label, last in late
                ]
            )
        if todo:
            run(sql.members_table(batch))
            for t in todo:
                for stmt in sql.write(t, key, at):
                    run(stmt)
            run(sql.drop_members())
            _pause()
        return run(sql.sizes(labels, at)), {t.label for t in todo}

    rows, written = db._writing(work, timeout)
    sizes = {r[0]: r[1:] for r in rows}
    out = []
    for label in labels:
        members, entered, exited = (int(x or 0) for x in sizes.get(label, (0, 0, 0)))
        out.append(
            {
                "segment": label,
                "members": members,
                "entered": entered,
                "exited": exited,
                "written": label in written,
            }
        )
    return {"as_of": _text(at_time), "table": table, "segments": out}


def _utc(v: Any) -> dt.datetime:
    from segql.engines.values import normalize

    t: dt.datetime = normalize(v, Type.TIMESTAMP)
    return t


def labels_of(db: Any, schema: Schema, specs: Sequence[str]) -> list[str]:
    """The ``segment`` values ``specs`` read: ``@segmentation`` stands for its classes,
    any other name for itself (the table, not the catalog, knows what was snapshotted)."""
    out: list[str] = []
    for spec in specs:
        name = spec.strip().removeprefix("@")
        if name in schema.segmentations and "=" not in name:
            from segql.engines.selection import membership_values

            ((_, value),) = membership_values(schema, [name])
            assert isinstance(value, ir.Classify)
            classes = (*value.names, *(() if value.otherwise is None else (value.otherwise,)))
            out += [f"{name}={c}" for c in classes]
        elif name:
            out.append(name)
    if not out:
        raise EngineError(Diagnostic(code="snapshot-target", message="no segment to read"))
    return list(dict.fromkeys(out))


def changes(
    db: Any,
    schema: Schema,
    specs: Sequence[str],
    table: str,
    since: Any,
    until: Any,
    timeout: float | None,
) -> list[dict[str, Any]]:
    """Who entered (an interval opened) and who exited (one closed) in ``(since, until]``
    (``until`` None: no end), ordered by time, then key, segment and change."""
    from sqlglot import exp

    from segql.engines.values import _key_type, normalize

    labels = labels_of(db, schema, specs)
    start = timecalc.normalize_as_of(since)
    end = None if until is None else timecalc.normalize_as_of(until)
    if end is not None and end < start:
        raise EngineError(
            Diagnostic(code="bad-input", message="--until is before --since: nothing to read")
        )
    main, runs = table_node(table), table_node(table, "_runs")
    runs_name = f"{table}_runs"
    hint = f"take one first: segql snapshot @segment … --table {table}"
    if not check_columns(table, db._relation_columns(table), COLUMNS) or not check_columns(
        runs_name, db._relation_columns(runs_name), RUN_COLUMNS
    ):
        raise EngineError(
            Diagnostic(
                code="no-snapshot",
                message=f"there is no membership table `{table}` in this database",
                hints=(hint,),
            )
        )
    seg = exp.column("segment", quoted=True)
    taken = exp.select(seg).distinct().from_(runs)
    known = {r[0] for r in db._rows(db._text(taken), timeout)}
    missing = [x for x in labels if x not in known]
    if missing:
        listing = ", ".join(sorted(known)[:20]) or "none"
        raise EngineError(
            [
                Diagnostic(
                    code="no-snapshot",
                    message=f"`{x}` has no snapshot in `{table}`",
                    hints=(hint, f"segments with snapshots there: {listing}"),
                )
                for x in missing
            ]
        )
    p: Profile = db.dialect

    def side(change: str, column: str) -> Any:
        at = exp.column(column, quoted=True)
        cond = exp.and_(
            exp.In(this=seg.copy(), expressions=[exp.Literal.string(x) for x in labels]),
            exp.GT(this=at.copy(), expression=p.timestamp_literal(start)),
        )
        if end is not None:
            cond = exp.and_(cond, exp.LTE(this=at.copy(), expression=p.timestamp_literal(end)))
        return (
            exp.select(
                exp.column("key", quoted=True),
                seg.copy(),
                exp.alias_(exp.Literal.string(change), "change", quoted=True),
                exp.alias_(at, "at", quoted=True),
            )
            .from_(main.copy())
            .where(cond)
        )

    both = exp.union(side("entered", "valid_from"), side("exited", "valid_to"), distinct=False)
    rows = db._rows(db._text(both), timeout)
    kt = _key_type(schema)
    # Sorted here, not by the engine: text keys sort the same way on every engine.
    got = sorted(((_utc(a), normalize(k, kt), s, c) for k, s, c, a in rows), key=_order)
    return [{"key": k, "segment": s, "change": c, "at": _text(a)} for a, k, s, c in got]


def _order(row: tuple[dt.datetime, Any, str, str]) -> tuple[Any, ...]:
    at, key, seg, change = row
    return (at, (0, key, "") if isinstance(key, int | float) else (1, 0, str(key)), seg, change)
