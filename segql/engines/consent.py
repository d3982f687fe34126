"""Exports for one channel (CONTRACT §8): only reachable members, the channel's address
beside the requested values, the members left out counted by the engine (by reason), and
addresses hashed the way ad platforms' customer matching expects.

Hashing happens in Python as rows are written, so it is byte-identical on every engine.
The normalization rules are in docs/privacy.md; :func:`normalized` is their one
implementation."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import AddressKind, ChannelDef, Schema
from segql.core.types import Type
from segql.ir import nodes as ir

__all__ = [
    "AddressHash",
    "ChannelExport",
    "Reach",
    "channel_of",
    "hashed",
    "normalized",
    "plan_export",
]


class AddressHash(enum.StrEnum):
    SHA256 = "sha256"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """How many members of a segment a channel reaches, and why the others are left out.
    Each member counts once, by the first reason that applies: no consent (false or
    null, whatever the address), then no address (null)."""

    channel: str
    members: int
    reachable: int
    no_consent: int
    no_address: int

    @property
    def left_out(self) -> int:
        return self.no_consent + self.no_address

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "members": self.members,
            "reachable": self.reachable,
            "no_consent": self.no_consent,
            "no_address": self.no_address,
        }


def channel_of(schema: Schema, name: str) -> ChannelDef:
    ch = schema.channels.get(name)
    if ch is not None:
        return ch
    if not schema.channels:
        hints: tuple[str, ...] = (
            "declare one in the schema: `channels: {email: {address: email, consent: "
            "email_consent}}` (see docs/privacy.md)",
        )
    else:
        import difflib

        near = difflib.get_close_matches(name, schema.channels, n=1)
        hints = (f"did you mean `{near[0]}`?",) if near else ()
        hints += ("channels: " + ", ".join(schema.channels),)
    what = "the schema declares no channels" if not schema.channels else ""
    raise EngineError(
        Diagnostic(
            code="unknown-channel",
            message=f"unknown channel `{name}`" + (f": {what}" if what else ""),
            hints=hints,
        )
    )


# --- normalization and hashing ---------------------------------------------------------
_SEPARATORS = re.compile(r"[\s.\-/()]")  # what a phone number may be written with
_TRUNK = re.compile(r"\(0\)")  # `+33 (0)6 …`: the national trunk 0, shown in brackets
MIN_DIGITS, MAX_DIGITS = 7, 15  # a whole international number (E.164: at most 15)


def normalized(address: str, ch: ChannelDef) -> str | None:
    """The form of ``address`` that is hashed, or None when it has none (an empty email,
    a phone number with letters, or without a country code and none configured)."""
    match ch.kind:
        case AddressKind.EMAIL:
            text = address.strip().lower()
            return text if "@" in text else None
        case AddressKind.PHONE:
            return _phone(address, ch.country_code)
        case AddressKind.NONE:
            return address if address != "" else None
        case _:  # pragma: no cover
            from typing import assert_never

            assert_never(ch.kind)


def _phone(address: str, country_code: str | None) -> str | None:
    text = _TRUNK.sub("", address.strip())
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif country_code is not None:
        digits = country_code + text.removeprefix("0")
    else:
        return None
    if not (digits.isascii() and digits.isdigit()) or digits.startswith("0"):
        return None
    return digits if MIN_DIGITS <= len(digits) <= MAX_DIGITS else None


def hashed(address: str | None, ch: ChannelDef) -> str | None:
    """The lowercase hex SHA-256 of the normalized address (its UTF-8 bytes), or None."""
    if address is None:
        return None
    text = normalized(address, ch)
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- planning an export ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChannelExport:
    """What a channel changes in an export: the filter, the values (the address last,
    unless it is the key) and where the address is among the columns."""

    source: ir.TExpr
    values: list[tuple[str, ir.TExpr]]
    channel: ChannelDef
    hash: AddressHash | None
    column: int | None  # the address's column (0 is the key), when it is hashed

    def rows(self, batches: Iterator[list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
        """The rows with the address hashed; rows without a usable address are dropped."""
        if self.column is None:
            yield from batches
            return
        i, ch = self.column, self.channel
        for batch in batches:
            out = []
            for r in batch:
                h = hashed(r[i], ch)
                if h is not None:
                    out.append((*r[:i], h, *r[i + 1 :]))
            yield out

    def table(self, table: Any) -> Any:
        """A pyarrow table with the address hashed (rows without a usable one dropped)."""
        if self.column is None:
            return table
        import pyarrow as pa

        name = table.column_names[self.column]
        got = [hashed(v, self.channel) for v in table.column(self.column).to_pylist()]
        table = table.set_column(self.column, name, pa.array(got, type=pa.string()))
        return table.filter(pa.array([h is not None for h in got]))


def plan_export(
    source: Any,
    schema: Schema,
    values: Sequence[tuple[str, ir.TExpr]],
    channel: str | None,
    hash: str | None,
    *,
    limits: Any,
) -> ChannelExport | None:
    """The export of ``source`` for ``channel`` (None: an ordinary export). ``hash``
    needs a channel; the address may not also be asked for as a field."""
    if channel is None:
        if hash is not None:
            raise EngineError(
                Diagnostic(
                    code="bad-export",
                    message="`hash` applies to a channel's address: name the channel too",
                    hints=("e.g. `--channel email --hash sha256`",),
                )
            )
        return None
    how = _hash_of(hash)
    ch = channel_of(schema, channel)
    key = schema.entity.key
    if any(n == ch.address for n, _ in values):
        raise EngineError(
            Diagnostic(
                code="bad-fields",
                message=f"`{ch.address}` is the address of channel `{ch.name}`: it is exported "
                "once, as the channel's address",
                hints=("leave it out of the fields (with a hash, it is the hashed column)",),
            )
        )
    if ch.address == key and how is not None:
        raise EngineError(
            Diagnostic(
                code="bad-export",
                message=f"the address of channel `{ch.name}` is the key `{key}`, which every "
                "export holds in clear text: hashing it would hide nothing",
                hints=("key the contacts by an id to export hashed addresses",),
            )
        )
    from segql.ir.channels import reachable
    from segql.pipeline import typed

    texpr = typed(source, schema, limits=limits)
    both = ir.BoolOp(op=ir.BoolOpKind.AND, operands=(texpr, reachable(schema, ch)))
    out = list(values)
    column: int | None = None
    if ch.address != key:
        fd = schema.entity.fields[ch.address]
        out.append((ch.address, ir.Field(name=ch.address, column=fd.column, type=Type.STRING)))
        column = len(out) if how is not None else None
    return ChannelExport(source=both, values=out, channel=ch, hash=how, column=column)


def _hash_of(hash: str | None) -> AddressHash | None:
    if hash is None:
        return None
    try:
        return AddressHash(hash.lower())
    except ValueError:
        raise EngineError(
            Diagnostic(
                code="bad-export",
                message=f"unknown hash `{hash}`",
                hints=("segql hashes addresses with `sha256`",),
            )
        ) from None
