"""The analyses every database runs the same way (CONTRACT §6.1–6.4): batch membership and
counts, profile, overlap, explain, history and diff. Each builds its SQL over the
database's own membership query (``_query`` with values beside the key) and runs it
through the database's ``_rows`` / ``_table``; :class:`segql.engine.Database` (DuckDB)
and :class:`segql.engines.base.EngineDatabase` (every other engine) differ only there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from segql.backends.sql.dialects import Profile
from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import nodes as ir

__all__ = ["Analyses"]

T = TypeVar("T")
_EVERY = ir.Lit(value=True, type=Type.BOOLEAN)  # a batch returns every contact


class Analyses:
    dialect: Profile

    # --- provided by the database ------------------------------------------------------
    def _query(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        as_of: dt.datetime | dt.date | None,
        fields: Sequence[str],
        values: Sequence[tuple[str, ir.TExpr]] | None = None,
        *,
        batch: bool = False,
        points: Sequence[dt.datetime] = (),
    ) -> Any:
        """The query of ``source`` with ``values`` (else the ``fields`` named) beside the
        key; ``batch``: every contact's values are wanted, not a filter (SqlOptions.batch);
        ``points``: a history's one row of sums over that time grid (SqlOptions.points)."""
        raise NotImplementedError

    def _text(self, query: Any) -> str:
        raise NotImplementedError

    def _rows(self, text: str, timeout: float | None) -> list[Any]:
        """The rows of a query (tuples)."""
        raise NotImplementedError

    def _table(self, text: str, names: list[str], types: list[Type], timeout: float | None) -> Any:
        """The rows of a query as a pyarrow Table with these column names and types."""
        raise NotImplementedError

    def _relation_columns(self, name: str) -> dict[str, str] | None:
        """Column name -> engine type of table ``name`` (None: no such table)."""
        raise NotImplementedError

    def _writing(self, work: Callable[[Callable[[str], list[Any]]], T], timeout: float | None) -> T:
        """Run ``work`` (given a function running one statement) in one transaction:
        committed when it returns, rolled back when it raises or the process dies."""
        raise NotImplementedError

    def _lock_table(self, run: Callable[[str], list[Any]], table: Any) -> None:
        """Keep other writers off ``table`` until the transaction ends (engines whose
        writers do not already exclude each other)."""

    def member_ids(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        raise NotImplementedError

    # --- the analyses --------------------------------------------------------------------
    def _batch(self, schema: Schema, as_of: Any, values: Sequence[tuple[str, ir.TExpr]]) -> Any:
        """Every contact with ``values`` beside the key, as named (the batch plans)."""
        return self._query(_EVERY, schema, as_of, (), values, batch=True)

    def membership(
        self,
        schema: Schema,
        names: Sequence[str] | None = None,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Every contact with one column per segment (bool) and per segmentation (its
        class) in ``names`` (None: all of the schema's), computed in one query: one pass
        over each stream for all of them. A pyarrow Table."""
        from segql.engines.selection import membership_values
        from segql.engines.values import _key_type

        values = membership_values(schema, names)
        coded = [(f"m{i}", v) for i, (_, v) in enumerate(values)]
        text = self._text(self._batch(schema, as_of, coded))
        names_ = [schema.entity.key, *(n for n, _ in values)]
        types = [_key_type(schema), *(v.type for _, v in values)]
        return self._table(text, names_, types, timeout)

    def counts(
        self,
        schema: Schema,
        names: Sequence[str] | None = None,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """How many members each segment (and each class of each segmentation) in
        ``names`` has, in one query; also ``"contacts"``, the number of contacts."""
        from segql.engines.selection import counts_of, counts_query, membership_values

        values = membership_values(schema, names)
        coded = [(f"m{i}", v) for i, (_, v) in enumerate(values)]
        query, labels = counts_query(self._batch(schema, as_of, coded), values)
        return counts_of(self._rows(self._text(query), timeout)[0], labels)

    def profile(
        self,
        schema: Schema,
        targets: Sequence[str],
        metrics: Sequence[str],
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Size, share and metric statistics per segment, expression or class, and η² per
        segmentation (CONTRACT §6.3), computed by the engine in one statement. Targets are
        ``@segment``, ``@segmentation`` or expressions; metrics numeric value expressions
        (``EXPR`` or ``EXPR as NAME``)."""
        import segql.engines.profile as prof

        tg = prof.targets_of(schema, targets)
        ms = prof.metrics_of(schema, metrics)
        inner = self._batch(schema, as_of, prof.membership_columns(tg, ms))
        text = self._text(prof.profile_query(self.dialect, inner, tg, ms))
        return prof.profile_result(self._rows(text, timeout), tg, ms, prof.as_of_text(as_of))

    def overlap(
        self,
        schema: Schema,
        targets: Sequence[str] | None = None,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Sizes, pairwise intersections and Jaccard indexes of ``targets`` (``@segment``
        or expressions; None: every catalog segment), in one statement."""
        from segql.engines.overlap import overlap_query, overlap_result, overlap_targets

        values = overlap_targets(schema, targets)
        coded = [(f"g{i}", v) for i, (_, v) in enumerate(values)]
        query = overlap_query(self._batch(schema, as_of, coded), len(values))
        rows = self._rows(self._text(query), timeout)
        return overlap_result(rows[0], [n for n, _ in values])

    def explain(
        self,
        source: str,
        schema: Schema,
        key: Any,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Why contact ``key`` is in ``source`` (an expression or ``@segment``) or not: the
        clause tree with each clause's truth and compared value, read from the engine
        (:class:`segql.engines.explain.Clause`; ``.to_json()``, or
        :func:`segql.engines.explain.render`)."""
        from segql.engines.explain import clauses, contact_is, fill

        values: list[tuple[str, ir.TExpr]] = []
        root = clauses(source, schema, values)
        query = self._query(contact_is(schema, key), schema, as_of, (), values)
        rows = self._rows(self._text(query), timeout)
        if not rows:
            raise EngineError(
                Diagnostic(
                    code="bad-input",
                    message=f"no contact has the key {key!r}",
                    hints=(f"keys are the `{schema.entity.key}` column of the contacts",),
                )
            )
        fill(root, dict(zip(["k", *(c for c, _ in values)], rows[0], strict=True)))
        return root

    def history(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        start: dt.datetime | dt.date,
        end: dt.datetime | dt.date | None,
        every: str,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """The segment's size at ``start``, ``start + every``, … up to ``end`` (None:
        now), with how many entered and exited since the previous point (CONTRACT §6.4)."""
        from segql.engines.history import history, points

        return history(self, source, schema, points(schema, start, end, every), timeout)

    def diff(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        *,
        as_of: dt.datetime | dt.date | None,
        against: dt.datetime | dt.date,
        members: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Entered, exited and stayed between ``against`` and ``as_of`` (None: now), with
        the keys of each when ``members``."""
        from segql.engines.history import diff

        return diff(self, source, schema, as_of, against, members, timeout)

    def assignments(
        self,
        schema: Schema,
        experiment: str,
        *,
        timeout: float | None = None,
    ) -> Any:
        """The experiment's audience at its start with each member's arm (CONTRACT §6.5):
        a pyarrow Table (key, arm). The same on every engine, whenever it is run."""
        import segql.engines.experiments as xp
        from segql.engines.values import _key_type

        arm = xp.experiment(schema, experiment)[1]
        cond = ir.Not(operand=ir.IsNull(operand=arm))
        text = self._text(self._query(cond, schema, None, (), [("arm", arm)]))
        return self._table(
            text, [schema.entity.key, "arm"], [_key_type(schema), Type.STRING], timeout
        )

    def results(
        self,
        schema: Schema,
        experiment: str,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Each arm's size and conversions (or mean) over the goal's window, the lift
        against the first arm with a 95% interval and p-value, and the sample-ratio-
        mismatch test (CONTRACT §6.5); as of ``as_of`` (None: now) or the window's end."""
        import segql.engines.experiments as xp
        import segql.engines.profile as prof

        ex, arm, goal, upto, end = xp.plan(schema, experiment, as_of)
        tg = [prof.Target(label=ex.name, value=arm, classes=arm.names)]
        ms = [prof.Metric(name="goal", value=goal)]
        inner = self._batch(schema, upto, prof.membership_columns(tg, ms))
        text = self._text(prof.profile_query(self.dialect, inner, tg, ms))
        groups = prof.profile_result(self._rows(text, timeout), tg, ms, "")["groups"]
        return xp.result(ex, groups, goal.type is Type.BOOLEAN, upto, end)

    def snapshot(
        self,
        schema: Schema,
        names: Sequence[str],
        *,
        table: str = "segql_membership",
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Write the membership of ``names`` (``@segment``, ``@segmentation``: one segment
        per class, or ``EXPR as NAME``) at ``as_of`` (None: now) into ``table`` as
        intervals, in one transaction (CONTRACT §6.4; docs/snapshots.md). The same as_of
        again changes nothing; an as_of before a segment's latest snapshot is refused."""
        from segql.engines.snapshot import snapshot

        return snapshot(self, schema, names, table, as_of, timeout)

    def changes(
        self,
        schema: Schema,
        names: Sequence[str],
        *,
        since: dt.datetime | dt.date,
        until: dt.datetime | dt.date | None = None,
        table: str = "segql_membership",
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """Who entered and exited ``names`` in (``since``, ``until``], read from the
        snapshot table: ``{"key", "segment", "change": "entered"|"exited", "at"}`` rows
        ordered by time, then key."""
        from segql.engines.snapshot import changes

        return changes(self, schema, names, table, since, until, timeout)

    def reach(
        self,
        source: str | ir.TExpr,
        schema: Schema,
        channel: str,
        *,
        as_of: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> Any:
        """How many members of ``source`` ``channel`` reaches and why the others are left
        out (:class:`segql.engines.consent.Reach`), counted by the engine in one query."""
        from segql.engines.consent import Reach, channel_of
        from segql.engines.selection import counts_of, counts_query
        from segql.ir.channels import reasons

        ch = channel_of(schema, channel)
        values = reasons(schema, ch)
        coded = [(f"m{i}", v) for i, (_, v) in enumerate(values)]
        query, labels = counts_query(self._query(source, schema, as_of, (), coded), values)
        got = counts_of(self._rows(self._text(query), timeout)[0], labels)
        return Reach(
            channel=ch.name,
            members=got["contacts"],
            reachable=got["reachable"],
            no_consent=got["no_consent"],
            no_address=got["no_address"],
        )
