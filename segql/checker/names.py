"""Names: profile fields, stream fields inside an aggregate's `where`, traits, `as_of`."""

from __future__ import annotations

from segql.checker.context import _Ctx, _did_you_mean
from segql.checker.definitions import _experiment, _segmentation, _trait
from segql.core.schema import Stream
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.lang import ast as a
from segql.lang.formatter import quote_name


def _name(ctx: _Ctx, e: a.Name) -> ir.TExpr | None:
    schema = ctx.schema
    parts = e.parts
    shown = e.dotted
    if ctx.stream is not None:
        stream = ctx.stream
        prior = ctx.prior
        if prior is not None and len(parts) == 2 and parts[0] == prior.name:
            return _prior_field(ctx, prior, parts[1], e)
        if len(parts) == 2 and parts[0] == "contact" and not ctx.in_filter:
            # `contact.NAME`: always the contact's (CONTRACT §5.3)
            return _contact(ctx, a.Name(parts=parts[1:], span=e.span))
        if len(parts) == 2 and parts[0] == stream.name:
            parts = parts[1:]
        if len(parts) == 1:
            fname = parts[0]
            fd = stream.fields.get(fname)
            if fd is not None:
                return ir.EventField(
                    stream=stream.name, name=fname, column=fd.column, type=fd.type, span=e.span
                )
            if fname == stream.time:
                return ir.EventField(
                    stream=stream.name,
                    name=fname,
                    column=stream.time,
                    type=Type.TIMESTAMP,
                    span=e.span,
                )
            where = "the stream filter" if ctx.in_filter else f"`where` of `{stream.name}`"
            contact = (*schema.entity.fields, *schema.traits, *schema.segmentations)
            if not ctx.in_filter and fname in contact:
                # not a field of the stream: the contact's (CONTRACT §5.3)
                return _contact(ctx, a.Name(parts=parts, span=e.span))
            if fname in schema.entity.fields or fname in schema.traits:
                kind = "field" if fname in schema.entity.fields else "trait"
                ctx.error(
                    "wrong-scope",
                    f"`{shown}` is a profile {kind}; inside {where} names refer to the "
                    f"fields of each `{stream.name}` event",
                    e.span,
                    f"fields of `{stream.name}`: " + ", ".join(sorted(stream.fields)),
                    "a stream filter is about events alone; test the contact in the segment",
                )
                return None
            ctx.error(
                "unknown-name",
                f"`{stream.name}` has no field `{shown}`",
                e.span,
                *_did_you_mean(fname, [*stream.fields, stream.time]),
            )
            return None
        other = schema.streams.get(parts[0])
        if other is not None and len(parts) == 2:
            ctx.error(
                "wrong-scope",
                f"`{shown}` is a field of `{other.name}`, but this condition is about "
                f"`{stream.name}` events",
                e.span,
                f"use `{parts[1]}` for the field of `{stream.name}`",
                "an earlier event's field is only known after `followed by`: "
                f"`has {other.name} followed by {stream.name} where … = {shown}`",
            )
            return None
        ctx.error("unknown-name", f"`{stream.name}` has no field `{shown}`", e.span)
        return None
    if len(parts) == 1:
        n = parts[0]
        fd = schema.entity.fields.get(n)
        if fd is not None:
            return ir.Field(name=n, column=fd.column, type=fd.type, span=e.span)
        if n in schema.traits:
            return _trait(ctx, n, e.span)
        if n in schema.segmentations:
            return _segmentation(ctx, n, e.span)
        if n in schema.experiments:
            return _experiment(ctx, n, e.span)
        if n in schema.streams:
            ctx.error(
                "misplaced-stream",
                f"`{n}` is an event stream; use it inside an aggregate",
                e.span,
                f"e.g. `count({quote_name(n)}) > 0`, `has {quote_name(n)}`, or "
                f"`last({quote_name(n)}) < 30d`",
            )
            return None
        if n in schema.segments:
            ctx.error(
                "misplaced-segment",
                f"`{n}` is a segment; refer to it as `in segment {quote_name(n)}`",
                e.span,
            )
            return None
        owners = [s.name for s in schema.streams.values() if n in s.fields or n == s.time]
        if owners:
            # most often `has E where A and B`: the bare `where` takes one comparison, so
            # B is read at the contact's level
            first = quote_name(owners[0])
            ctx.error(
                "misplaced-event-field",
                f"`{n}` is a field of each "
                + " and ".join(f"`{o}`" for o in owners)
                + " event, not of the contact; use it inside an aggregate",
                e.span,
                f"e.g. `count({first} where {n} = …)` or `has {first} where {n} = …`",
                "after `has E where A and …` (or `or …`), names are the contact's again "
                "(the bare `where` takes one comparison): write `has E where (A and B)`",
            )
            return None
        ctx.error(
            "unknown-name",
            f"unknown name `{n}`",
            e.span,
            *_did_you_mean(
                n,
                [
                    *schema.entity.fields,
                    *schema.traits,
                    *schema.segmentations,
                    *schema.experiments,
                    *schema.streams,
                ],
            ),
        )
        return None
    if len(parts) == 2 and parts[0] == "contact" and parts[0] not in schema.streams:
        return _contact(ctx, a.Name(parts=parts[1:], span=e.span))
    owner = schema.streams.get(parts[0])
    if owner is not None and len(parts) == 2:
        if parts[1] in owner.fields or parts[1] == owner.time:
            ctx.error(
                "misplaced-event-field",
                f"`{shown}` is a field of each `{owner.name}` event; use it inside an aggregate",
                e.span,
                f"e.g. `sum({shown}) > 100` or `count({owner.name} where {parts[1]} = …)`",
            )
        else:
            ctx.error(
                "unknown-name",
                f"`{owner.name}` has no field `{parts[1]}`",
                e.span,
                *_did_you_mean(parts[1], owner.fields),
            )
        return None
    ctx.error(
        "unknown-name",
        f"unknown name `{shown}`",
        e.span,
        *_did_you_mean(parts[0], schema.streams),
    )
    return None


def _contact(ctx: _Ctx, name: a.Name) -> ir.TExpr | None:
    """A name read at the contact's level, from inside an event condition."""
    return _name(ctx.inner(None), name)


def _prior_field(ctx: _Ctx, prior: Stream, fname: str, e: a.Name) -> ir.TExpr | None:
    fd = prior.fields.get(fname)
    if fd is not None:
        return ir.PriorField(
            stream=prior.name, name=fname, column=fd.column, type=fd.type, span=e.span
        )
    if fname == prior.time:
        return ir.PriorField(
            stream=prior.name, name=fname, column=prior.time, type=Type.TIMESTAMP, span=e.span
        )
    ctx.error(
        "unknown-name",
        f"`{prior.name}` has no field `{fname}`",
        e.span,
        *_did_you_mean(fname, [*prior.fields, prior.time]),
    )
    return None
