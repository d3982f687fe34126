"""Aggregates over a contact's events, `has`, event conditions, `in segment`."""

from __future__ import annotations

from segql.checker.calls import FIXED_RETURNS
from segql.checker.context import _a, _boolean_hint, _Ctx, _describe, _did_you_mean, _dur
from segql.checker.definitions import _segment
from segql.core.diagnostics import Span
from segql.core.schema import Stream
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.lang import ast as a
from segql.lang.functions import FUNCTIONS


def _stream_of(ctx: _Ctx, target: a.Name, func: str) -> Stream | None:
    what = "needs events" if func == "followed by" else "aggregates events"
    schema = ctx.schema
    head = target.parts[0]
    stream = schema.streams.get(head)
    if stream is not None:
        return stream
    if head in schema.entity.fields or head in schema.traits:
        ctx.error(
            "not-a-stream",
            f"`{head}` is a profile {'field' if head in schema.entity.fields else 'trait'}, "
            f"not an event stream; `{func}` {what}",
            target.span,
            "event streams: " + ", ".join(sorted(schema.streams)),
        )
        return None
    ctx.error(
        "unknown-stream",
        f"unknown event stream `{head}`",
        target.span,
        *(_did_you_mean(head, schema.streams) or ("event streams: " + ", ".join(schema.streams),)),
    )
    return None


_NUMERIC = (ir.AggFunc.SUM, ir.AggFunc.AVG, ir.AggFunc.MEDIAN)  # aggregates of numbers


def _whole_stream(ctx: _Ctx, target: a.Name, word: str, test: str) -> Stream | None:
    """The stream after `has` or `followed by`: a stream, not one of its fields."""
    if len(target.parts) != 1:
        ctx.error(
            "bad-aggregate",
            f"`{word}` takes an event stream, not a field",
            target.span,
            f"e.g. `{word} {target.parts[0]} where {target.parts[-1]} {test}`",
        )
        return None
    return _stream_of(ctx, target, word)


def _contact_level(ctx: _Ctx, what: str, span: Span) -> _Ctx | None:
    """The context for a contact-level construct: inside an aggregate's `where` it reads
    the contact, like a profile name there (CONTRACT §5.3); a stream filter, which is about
    events alone, refuses it."""
    if ctx.stream is None:
        return ctx
    if ctx.in_filter:
        ctx.error(
            "nested-aggregate",
            f"{what} cannot be used in the stream filter of `{ctx.stream.name}`",
            span,
            "a stream filter is about each event alone; test the contact in the segment",
        )
        return None
    return ctx.inner(None)


def _aggregate(ctx: _Ctx, e: a.Aggregate) -> ir.TExpr | None:
    got = _contact_level(ctx, f"`{e.func}(…)`", e.span)
    if got is None:
        return None
    ctx = got
    func = ir.AggFunc(e.func)
    stream = _stream_of(ctx, e.target, e.func)
    if stream is None:
        return None
    parts = e.target.parts
    operand: ir.TExpr | None = None
    column: str | None = None
    ftype: Type | None = None
    if func in (ir.AggFunc.COUNT, ir.AggFunc.FIRST, ir.AggFunc.LAST):
        if len(parts) != 1:
            hint = (
                f"`count({stream.name})` counts events; `count_distinct({e.target.dotted})` "
                "counts distinct values"
                if func is ir.AggFunc.COUNT
                else f"`{e.func}({stream.name})` is the time of the "
                f"{'earliest' if func is ir.AggFunc.FIRST else 'latest'} event"
            )
            ctx.error(
                "bad-aggregate",
                f"`{e.func}` takes an event stream, not a field",
                e.target.span,
                hint,
            )
            return None
    else:
        if len(parts) != 2:
            fields = [
                f for f, d in stream.fields.items() if func not in _NUMERIC or d.type.is_numeric
            ]
            ctx.error(
                "bad-aggregate",
                f"`{e.func}` needs a field of `{stream.name}`, e.g. "
                f"`{e.func}({stream.name}.{fields[0] if fields else 'amount'})`",
                e.target.span,
                *(("fields: " + ", ".join(sorted(fields)),) if fields else ()),
            )
            return None
        fname = parts[1]
        fd = stream.fields.get(fname)
        if fd is None and fname == stream.time:
            column, ftype = stream.time, Type.TIMESTAMP
        elif fd is None:
            ctx.error(
                "unknown-name",
                f"`{stream.name}` has no field `{fname}`",
                e.target.span,
                *_did_you_mean(fname, stream.fields),
            )
            return None
        else:
            column, ftype = fd.column, fd.type
        if e.calendar is not None:
            assert ftype is not None and column is not None
            if not ftype.is_temporal:
                ctx.error(
                    "type-mismatch",
                    f"`{e.calendar}` needs a date or timestamp, but `{e.target.dotted}` is "
                    f"{_a(ftype)}",
                    e.target.span,
                )
                return None
            field = ir.EventField(
                stream=stream.name, name=parts[1], column=column, type=ftype, span=e.target.span
            )
            ftype = FIXED_RETURNS[FUNCTIONS[e.calendar].returns]  # declared once
            operand = ir.Func(
                func=ir.FuncName(e.calendar), args=(field,), type=ftype, span=e.target.span
            )
        shown = e.target.dotted if e.calendar is None else f"{e.calendar}({e.target.dotted})"
        assert ftype is not None
        if func in _NUMERIC and not ftype.is_numeric:
            ctx.error(
                "type-mismatch",
                f"`{e.func}` needs a number, but `{shown}` is {_a(ftype)}",
                e.target.span,
            )
            return None
        if func in (ir.AggFunc.MIN, ir.AggFunc.MAX) and (ftype.is_list or ftype is Type.BOOLEAN):
            ctx.error(
                "type-mismatch",
                f"`{e.func}` needs a number, string, date or timestamp, but "
                f"`{shown}` is {_a(ftype)}",
                e.target.span,
            )
            return None
        if func in ir.PICKS and ftype.is_list:
            ctx.error(
                "type-mismatch",
                f"`{e.func}` picks one value, and lists have no order (`{shown}` is {_a(ftype)})",
                e.target.span,
            )
            return None
        if func is ir.AggFunc.COUNT_DISTINCT and ftype.is_list:
            ctx.error(
                "type-mismatch",
                f"`count_distinct` cannot count lists (`{shown}` is {_a(ftype)})",
                e.target.span,
            )
            return None
    where = _event_where(ctx, stream, e.where)
    if e.where is not None and where is None:
        return None
    rtype: Type
    if func in (ir.AggFunc.COUNT, ir.AggFunc.COUNT_DISTINCT):
        rtype = Type.INTEGER
    elif func in (ir.AggFunc.FIRST, ir.AggFunc.LAST):
        rtype = Type.TIMESTAMP
    elif func in (ir.AggFunc.AVG, ir.AggFunc.MEDIAN):
        rtype = Type.FLOAT
    else:
        assert ftype is not None
        rtype = ftype
    return ir.Agg(
        func=func,
        stream=stream.name,
        column=column,
        where=where,
        within=_dur(ctx, e.within) if e.within is not None else None,
        type=rtype,
        operand=operand,
        span=e.span,
    )


def _event_where(
    ctx: _Ctx, stream: Stream, cond: a.Expr | None, prior: Stream | None = None
) -> ir.TExpr | None:
    if cond is None:
        return None
    inner = ctx.inner(stream, prior)
    x = inner.expr(cond)
    if x is None:
        return None
    if x.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "not-boolean",
            f"`where` needs a condition, but {_describe(cond)} is {_a(x.type)}",
            cond.span,
            *_boolean_hint(x.type),
        )
        return None
    return x


def _has(ctx: _Ctx, e: a.Has) -> ir.TExpr | None:
    got = _contact_level(ctx, "`has`", e.span)
    if got is None:
        return None
    ctx = got
    stream = _whole_stream(ctx, e.stream, "has", "is not null")
    if stream is None:
        return None
    where = _event_where(ctx, stream, e.where)
    if e.where is not None and where is None:
        return None
    within = _dur(ctx, e.within) if e.within is not None else None
    if e.then is None:
        return ir.Exists(stream=stream.name, where=where, within=within, span=e.span)
    then = e.then
    later = _whole_stream(ctx, then.stream, "followed by", "= …")
    if later is None:
        return None
    then_where = _event_where(ctx, later, then.where, prior=stream)
    if then.where is not None and then_where is None:
        return None
    return ir.Sequence(
        stream=stream.name,
        where=where,
        within=within,
        then=later.name,
        then_where=then_where,
        then_within=_dur(ctx, then.within) if then.within is not None else None,
        negated=then.negated,
        span=e.span,
    )


def _in_segment(ctx: _Ctx, e: a.InSegment, name: str) -> ir.TExpr | None:
    if ctx.stream is not None and ctx.in_filter:
        ctx.error(
            "wrong-scope",
            f"`in segment` tests a contact, but inside the stream filter conditions are "
            f"about each `{ctx.stream.name}` event",
            e.span,
            "test the segment in the segment's own condition, joined with `and`",
        )
        return None
    ctx = ctx.inner(None) if ctx.stream is not None else ctx
    # a segmentation or an experiment is a string value: one of its classes or arms
    seg, experiment = ctx.schema.segmentations.get(name), ctx.schema.experiments.get(name)
    value = (
        ("a segmentation", "classes", seg.classes[0].name)
        if seg is not None
        else ("an experiment", "arms", experiment.arms[0].name)
        if experiment is not None
        else None
    )
    if value is not None and name not in ctx.schema.segments:
        kind, values, first = value
        ctx.error(
            "unknown-segment",
            f"`{name}` is {kind}, not a segment",
            e.span,
            f"compare it with one of its {values}: `{name} = '{first}'`",
        )
        return None
    if name not in ctx.schema.segments:
        ctx.error(
            "unknown-segment",
            f"unknown segment `{name}`",
            e.span,
            *(
                _did_you_mean(name, ctx.schema.segments)
                or (
                    ("segments: " + ", ".join(sorted(ctx.schema.segments)),)
                    if ctx.schema.segments
                    else ("no segments are defined; add them under `segments:` in a catalog",)
                )
            ),
        )
        return None
    body = _segment(ctx, name, e.span)
    if body is None:
        return None
    return ir.IsTrue(operand=body, segment=name, span=e.span)
