"""A channel's conditions in ordinary typed IR (CONTRACT §8), so that no back end needs
code of its own for consent: ``reachable_by('email')`` is
``coalesce(email_consent, false) and email is not null`` — true or false, never unknown —
and an export counts the members it leaves out by the first reason that applies."""

from __future__ import annotations

from segql.core.schema import ChannelDef, Schema
from segql.core.types import Type
from segql.ir import nodes as ir

__all__ = ["consented", "has_address", "reachable", "reasons"]


def _field(schema: Schema, name: str) -> ir.Field:
    fd = schema.entity.fields[name]
    return ir.Field(name=name, column=fd.column, type=fd.type)


def consented(schema: Schema, ch: ChannelDef) -> ir.TExpr:
    """Consent is true (null and false are both "no"); never null."""
    return ir.Func(
        func=ir.FuncName.COALESCE,
        args=(_field(schema, ch.consent), ir.Lit(value=False, type=Type.BOOLEAN)),
        type=Type.BOOLEAN,
    )


def has_address(schema: Schema, ch: ChannelDef) -> ir.TExpr:
    return ir.IsNull(operand=_field(schema, ch.address), negated=True)


def reachable(schema: Schema, ch: ChannelDef) -> ir.BoolOp:
    return ir.BoolOp(
        op=ir.BoolOpKind.AND, operands=(consented(schema, ch), has_address(schema, ch))
    )


def reasons(schema: Schema, ch: ChannelDef) -> list[tuple[str, ir.TExpr]]:
    """Each member is exactly one of: reachable, without consent (whatever the address),
    or consenting but without an address. Each value is a never-null boolean."""
    yes = consented(schema, ch)
    return [
        ("reachable", reachable(schema, ch)),
        ("no_consent", ir.Not(operand=yes)),
        (
            "no_address",
            ir.BoolOp(
                op=ir.BoolOpKind.AND,
                operands=(yes, ir.IsNull(operand=_field(schema, ch.address))),
            ),
        ),
    ]
