"""In-process evaluation of a segment on one contact (CONTRACT §4.3 `matches`).

This is the semantic reference every SQL dialect is tested against. A typed tree is
compiled once into nested closures; evaluating a contact then touches only the fields and
streams the segment uses. Values are SQL's: ``None`` is unknown, and a contact matches
exactly when the whole expression is ``True``.

The typed tree is a DAG (trait and segment bodies are shared): each distinct node is
compiled once, bottom-up without recursion, and a node that occurs more than once is
evaluated once per contact (its value is kept for the call), so the work is linear in the
DAG even where the tree written out is exponentially larger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from segql.backends.python.compiler import _Compiler
from segql.backends.python.env import (
    _FAST,
    Fn,
    _did_you_mean,
    _Env,
    _input_error,
    _normalize,
    _plain,
    _safe,
)
from segql.core.diagnostics import (
    CheckError,
    Diagnostic,
    LimitError,
)
from segql.core.limits import DEFAULT_LIMITS, Limits
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import dag, timecalc
from segql.ir import nodes as ir
from segql.ir.definitions import definitions

__all__ = ["Predicate"]


class Predicate:
    """A compiled segment: ``pred(contact, events, as_of) -> bool``."""

    def __init__(self, texpr: ir.TExpr, schema: Schema, *, limits: Limits = DEFAULT_LIMITS) -> None:
        dag.enforce(texpr, limits, traits=definitions(schema).traits)
        for node in ir.walk(texpr):
            if isinstance(node, ir.Percentile | ir.TopPercent):
                what = (
                    "`top … by`"
                    if isinstance(node, ir.TopPercent)
                    else "`ntile`"
                    if node.tiles is not None
                    else "`percentile`"
                )
                raise CheckError(
                    Diagnostic(
                        code="needs-population",
                        message=f"{what} compares a contact with all others, so it cannot be "
                        "evaluated on one contact",
                        span=node.span,
                        hints=("run it on a database: segql.to_sql or segql.engine.Database",),
                    )
                )
        self.schema = schema
        self.tz = schema.tz
        # Keys a contact may have: schema field names and the key under its column name.
        self._contact_keys = frozenset([*schema.entity.fields, schema.entity.key])
        self._fields: dict[str, Type] = {}
        self._stream_fields: dict[str, dict[str, Type]] = {}
        # Times resolved against as_of (`30d ago`, `today`, …): each as_of is checked once,
        # up front, so that one out of range is an error whatever the contact's values,
        # as it is for to_sql.
        self._as_of_checks: list[Callable[[dt.datetime], object]] = []
        self._checked_as_of: dt.datetime | None = None
        with dag.guard("this segment"):
            self._fn = _Compiler(self, texpr).compile(texpr)

    def __call__(
        self,
        contact: Mapping[str, Any],
        events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        as_of: dt.datetime | dt.date | None = None,
    ) -> bool:
        return self.value(contact, events, as_of) is True

    def value(
        self,
        contact: Mapping[str, Any],
        events: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        as_of: dt.datetime | dt.date | None = None,
    ) -> Any:
        """The expression's value for one contact (None for null): any typed expression,
        not only a condition — e.g. a trait such as ``total_spent``."""
        aware = timecalc.normalize_as_of(as_of)
        if aware != self._checked_as_of:
            for resolve in self._as_of_checks:
                resolve(aware)
            self._checked_as_of = aware
        self._check_keys(contact, events)
        values = {
            name: _normalize(contact.get(name), t, name, "contact", self.tz)
            for name, t in self._fields.items()
        }
        env = _Env(
            contact=values,
            raw_events=events or {},
            as_of=aware.replace(tzinfo=None),
            aware=aware,
            times={},
        )
        try:
            return self._fn(env, None)
        except RecursionError:
            # Only with limits raised far beyond their defaults.
            raise LimitError(
                Diagnostic(
                    code="limit-exceeded",
                    message="this segment is nested too deeply to evaluate",
                    hints=("lower `max_depth` or `max_expanded_depth` in segql.Limits",),
                )
            ) from None

    def _check_keys(
        self,
        contact: Mapping[str, Any],
        events: Mapping[str, Sequence[Mapping[str, Any]]] | None,
    ) -> None:
        """Refuse a contact key or event stream the schema does not know: a misspelt key
        (``emailConsent``, ``order``) would otherwise read as null / no events."""
        if not isinstance(contact, Mapping):
            raise _input_error(
                f"contact must be a dict keyed by field names, not {type(contact).__name__}"
            )
        if not self._contact_keys.issuperset(contact):
            self._unknown_keys(contact)
        if events is None:
            return
        if not isinstance(events, Mapping):
            raise _input_error(
                f"events must be a dict keyed by stream names, not {type(events).__name__}"
            )
        streams = self.schema.streams
        for name, evs in events.items():
            if name not in streams:
                raise _input_error(
                    f"events has an unknown stream `{_safe(name)}`",
                    *_did_you_mean(str(name), streams),
                    "event streams: " + ", ".join(sorted(streams)),
                    code="unknown-name",
                )
            if not isinstance(evs, Iterable) or isinstance(evs, str | bytes | Mapping):
                raise _input_error(
                    f"events for `{name}` must be a list of dicts, not {type(evs).__name__}"
                )

    def _unknown_keys(self, contact: Mapping[str, Any]) -> None:
        schema = self.schema
        for key in contact:
            if key in self._contact_keys:
                continue
            if key in schema.traits:
                raise _input_error(
                    f"contact key `{key}` is a trait; segql computes it from the events",
                    "pass the events it is computed from instead",
                    code="unknown-name",
                )
            if key in schema.streams:
                raise _input_error(
                    f"contact key `{key}` is an event stream",
                    f"pass its events as `events={{{key!r}: [...]}}`",
                    code="unknown-name",
                )
            raise _input_error(
                f"contact has an unknown key `{_safe(key)}`",
                *_did_you_mean(str(key), self._contact_keys),
                "contacts are keyed by the schema's field names (the key by its column "
                f"`{schema.entity.key}`)",
                code="unknown-name",
            )

    def visible(self, env: _Env, stream: str) -> list[Mapping[str, Any]]:
        """The stream's events with a time at or before as_of that pass its filter, with
        the fields this predicate uses normalised."""
        got = env.visible.get(stream)
        if got is not None:
            return got
        st = self.schema.streams[stream]
        used = self._stream_fields.get(stream, {})
        out: list[Mapping[str, Any]] = []
        filt = self._filters.get(stream)
        time = st.time
        as_of = env.as_of
        since = env.since
        tz = self.tz
        fast = _FAST
        checks = [(name, ft, fast.get(ft)) for name, ft in used.items()]
        datetime = dt.datetime
        utc = dt.UTC
        for raw in env.raw_events.get(stream, ()):
            if type(raw) is not dict and not isinstance(raw, Mapping):
                raise _input_error(
                    f"each event of `{stream}` must be a dict, not {type(raw).__name__}"
                )
            t = raw.get(time)
            if type(t) is not datetime or (t.tzinfo is not None and t.tzinfo is not utc):
                t = _normalize(t, Type.TIMESTAMP, time, stream, tz)
            elif t.tzinfo is not None:
                t = t.replace(tzinfo=None)
            if t is None or t > as_of or (since is not None and t <= since):
                continue
            # Use the caller's dict as is when nothing needs converting (the common case);
            # copy only events with missing keys, aware times or values to convert or refuse.
            ev: Mapping[str, Any] = raw
            same = t is raw.get(time)
            if same:
                for name, _, ok in checks:
                    v = raw.get(name, raw)
                    if v is not None and (type(v) is not ok or not _plain(v)):
                        same = False
                        break
            if not same:
                ev = {time: t}
                for name, ft, _ in checks:
                    v = raw.get(name)
                    ev[name] = None if v is None else _normalize(v, ft, name, stream, tz)
            if filt is not None and filt(env, ev) is not True:
                continue
            out.append(ev)
        env.visible[stream] = out
        return out

    _filters: dict[str, Fn]
