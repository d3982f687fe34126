"""``reachable_by('email')`` (CONTRACT §8): checked against the schema's ``channels:`` and
rewritten into conditions on the channel's profile fields (segql.ir.channels), so every
back end runs it with no code of its own."""

from __future__ import annotations

import dataclasses

from segql.checker.context import _Ctx, _suggest
from segql.ir import nodes as ir
from segql.ir.channels import reachable
from segql.lang import ast as a
from segql.lang.formatter import quote_string

__all__ = ["reachable_by"]

_DECLARE = (
    "declare channels in the schema: `channels: {email: {address: email, consent: "
    "email_consent}}` (see docs/privacy.md)"
)


def reachable_by(ctx: _Ctx, e: a.Call) -> ir.TExpr | None:
    channels = ctx.schema.channels
    if len(e.args) != 1:
        ctx.error(
            "wrong-arguments",
            f"`reachable_by` takes 1 argument, not {len(e.args)}",
            e.span,
            *(f"e.g. `reachable_by({quote_string(n)})`" for n in list(channels)[:1]),
        )
        return None
    arg = e.args[0]
    if not isinstance(arg, a.StringLit):
        ctx.error(
            "wrong-arguments",
            "the channel of `reachable_by` must be its name written in quotes",
            arg.span,
            *(f"e.g. `reachable_by({quote_string(n)})`" for n in list(channels)[:1]),
        )
        return None
    if ctx.stream is not None:
        ctx.error(
            "wrong-scope",
            "`reachable_by` tells whether the contact can be reached; it cannot be used "
            "inside an event condition",
            e.span,
        )
        return None
    ch = channels.get(arg.value)
    if ch is None:
        if not channels:
            ctx.error(
                "unknown-channel",
                f"unknown channel {quote_string(arg.value)}: the schema declares no channels",
                arg.span,
                _DECLARE,
            )
            return None
        names = ", ".join(quote_string(n) for n in channels)
        ctx.error(
            "unknown-channel",
            f"unknown channel {quote_string(arg.value)}",
            arg.span,
            _hint(_suggest(arg.value, channels)) or f"channels: {names}",
        )
        return None
    return dataclasses.replace(reachable(ctx.schema, ch), span=e.span)


def _hint(hits: list[str]) -> str:
    return ("did you mean " + " or ".join(quote_string(h) for h in hits) + "?") if hits else ""
