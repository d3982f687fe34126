"""The ``channels:`` section of a schema (CONTRACT §8): how each channel reaches a contact.

A channel names two profile fields: a string ``address`` and a boolean ``consent``.
Mistakes are reported at their place in the file, with did-you-mean suggestions; how an
address is normalized for hashing defaults from the channel's and the field's names
(docs/privacy.md)."""

from __future__ import annotations

from segql.config.nodes import Node
from segql.config.reading import did_you_mean, is_empty, suggest
from segql.config.sources import SourcesReader as Reader
from segql.core.schema import AddressKind, ChannelDef, Entity
from segql.core.types import Type

__all__ = ["CHANNEL_KEYS", "default_kind", "read_channels"]

CHANNEL_KEYS = ("address", "consent", "normalize", "country_code", "description")
_PHONE_WORDS = ("phone", "sms", "mobile", "whatsapp")
_EXAMPLE = "for example `channels: {email: {address: email, consent: email_consent}}`"


def default_kind(channel: str, address: str) -> AddressKind:
    """``email`` when the channel's or the address field's name holds "mail", ``phone``
    when one holds phone, sms, mobile or whatsapp (the channel's name decides first),
    else ``none``: an address of unknown form is hashed as stored."""
    for name in (channel.lower(), address.lower()):
        if "mail" in name:
            return AddressKind.EMAIL
        if any(w in name for w in _PHONE_WORDS):
            return AddressKind.PHONE
    return AddressKind.NONE


def read_channels(r: Reader, node: Node, entity: Entity) -> dict[str, ChannelDef]:
    out: dict[str, ChannelDef] = {}
    if is_empty(node):
        return out
    if not r.mapping(node, "`channels` must be a mapping of channel names to channels", _EXAMPLE):
        return out
    for k, v in node.entries:
        if not r.name_ok(k, "channel"):
            continue
        got = _channel(r, k, v, entity)
        if got is not None:
            out[got.name] = got
    return out


def _channel(r: Reader, key: Node, node: Node, entity: Entity) -> ChannelDef | None:
    name = str(key.value)
    what = f"channel `{name}`"
    if not r.mapping(node, f"{what} must be a mapping with `address:` and `consent:`", _EXAMPLE):
        return None
    r.check_keys(node, CHANNEL_KEYS, what)
    address = _field(r, node, key, what, "address", Type.STRING, entity)
    consent = _field(r, node, key, what, "consent", Type.BOOLEAN, entity)
    kind = default_kind(name, address or "")
    if (norm := node.get("normalize")) is not None:
        text = r.string(norm, f"the `normalize` of {what}")
        choices = [k.value for k in AddressKind]
        if text is not None and text not in choices:
            r.report(
                "schema-bad-value",
                f"unknown normalization `{text}` for {what}",
                norm,
                *(did_you_mean(suggest(text, choices)) or ("use `email`, `phone` or `none`",)),
            )
        elif text is not None:
            kind = AddressKind(text)
    country = _country_code(r, node.get("country_code"), what, kind)
    description = r.description(node, what)
    if address is None or consent is None:
        return None
    return ChannelDef(
        name=name,
        address=address,
        consent=consent,
        kind=kind,
        country_code=country,
        description=description,
        where=key.located(),
    )


def _field(
    r: Reader, node: Node, key: Node, what: str, role: str, want: Type, entity: Entity
) -> str | None:
    """The profile field named by ``role`` (``address`` or ``consent``), of type ``want``."""
    entry = node.entry(role)
    if entry is None:
        kind = "a string profile field" if want is Type.STRING else "a boolean profile field"
        r.report("schema-missing-key", f"{what} has no `{role}:` ({kind})", key)
        return None
    value = entry[1]
    name = r.string(value, f"the `{role}` of {what}")
    if name is None:
        return None
    fd = entity.fields.get(name)
    if fd is None:
        fields = [n for n, f in entity.fields.items() if f.type is want]
        r.report(
            "schema-unknown-field",
            f"the {role} of {what} is `{name}`, which is not a profile field",
            value,
            *(
                did_you_mean(suggest(name, fields or entity.fields))
                or (f"declare `{name}` under `entity: fields:`",)
            ),
        )
        return None
    if fd.type is not want:
        r.report(
            "schema-bad-channel",
            f"the {role} of {what} must be a {want} field; `{name}` is {fd.type}",
            value,
            "an address is text (an email, a phone number); consent is true or false",
        )
        return None
    return name


def _country_code(r: Reader, node: Node | None, what: str, kind: AddressKind) -> str | None:
    """``country_code: 33``: 1 to 3 digits (a leading ``+`` is allowed), phones only."""
    if node is None:
        return None
    # as written: YAML reads `033` as octal 27
    written = node.raw if node.raw is not None else node.value
    text = str(written).strip() if node.is_scalar and node.value is not None else ""
    digits = text.removeprefix("+")
    if (
        isinstance(node.value, bool)
        or not (digits.isascii() and digits.isdigit())
        or not (1 <= len(digits) <= 3 and not digits.startswith("0"))
    ):
        r.report(
            "schema-bad-value",
            f"the `country_code` of {what} must be a country calling code such as `33` or `1`",
            node,
            "1 to 3 digits, without a leading 0",
        )
        return None
    if kind is not AddressKind.PHONE:
        r.report(
            "schema-bad-value",
            f"`country_code` applies to phone numbers, but {what} is normalized as `{kind.value}`",
            node,
            "add `normalize: phone` if its addresses are phone numbers",
        )
        return None
    return digits
