"""A schema built in code, shared by checker tests (no file loading involved)."""

from __future__ import annotations

from segql.checker import check_schema
from segql.core.schema import (
    AddressKind,
    ChannelDef,
    ClassDef,
    Entity,
    FieldDef,
    Schema,
    SegmentationDef,
    SegmentDef,
    Source,
    Stream,
    TraitDef,
)
from segql.core.types import Type


def _f(name: str, t: Type, values: tuple[str, ...] | None = None) -> FieldDef:
    return FieldDef(name=name, type=t, column=name, values=values)


def shop_schema(timezone: str = "UTC") -> Schema:
    entity = Entity(
        source=Source(table="contacts"),
        key="id",
        fields={
            f.name: f
            for f in [
                _f("email", Type.STRING),
                _f("first_name", Type.STRING),
                _f("age", Type.INTEGER),
                _f("country", Type.STRING, ("US", "DE", "FR", "GB", "IN", "BR", "JP", "CA")),
                _f("birthday", Type.DATE),
                _f("signup_at", Type.TIMESTAMP),
                _f("lead_source", Type.STRING),
                _f("email_consent", Type.BOOLEAN),
                _f("score", Type.FLOAT),
                _f("credit", Type.DECIMAL),
                _f("tags", Type.LIST_STRING),
                _f("lucky_numbers", Type.LIST_INTEGER),
                FieldDef(name="by", type=Type.STRING, column="by"),
                FieldDef(name="first name", type=Type.STRING, column="First Name"),
                _f("phone", Type.STRING),
                _f("sms_consent", Type.BOOLEAN),
            ]
        },
    )
    orders = Stream(
        name="orders",
        source=Source(table="orders"),
        key="contact_id",
        time="ordered_at",
        fields={
            f.name: f
            for f in [
                _f("amount", Type.DECIMAL),
                _f("category", Type.STRING, ("shoes", "bags", "books")),
                _f("product", Type.STRING),
                _f("quantity", Type.INTEGER),
                _f("gift", Type.BOOLEAN),
            ]
        },
    )
    opens = Stream(
        name="email_opens",
        source=Source(table="email_events"),
        key="contact_id",
        time="at",
        fields={f.name: f for f in [_f("type", Type.STRING), _f("campaign", Type.STRING)]},
        filter_text="type = 'open'",
    )
    traits = {
        "purchases": "count(orders)",
        "total_spent": "sum(orders.amount)",
        "last_order": "last(orders)",
        "first_order": "first(orders)",
        "last_open": "last(email_opens)",
        "avg_order": "avg(orders.amount)",
    }
    segments = {
        "vip": "purchases >= 5 and total_spent > 1000",
        "lapsed_vip": "in segment vip and last_order > 180d",
        "buyers": "has orders",
    }
    schema = Schema(
        timezone=timezone,
        entity=entity,
        streams={"orders": orders, "email_opens": opens},
        traits={n: TraitDef(name=n, text=t) for n, t in traits.items()},
        segments={n: SegmentDef(name=n, text=t) for n, t in segments.items()},
        segmentations={
            "value_class": SegmentationDef(
                name="value_class",
                classes=(
                    ClassDef(name="very_good", text="purchases >= 5 and total_spent > 1000"),
                    ClassDef(name="good", text="purchases >= 2"),
                    ClassDef(name="occasional", text="purchases >= 1"),
                ),
                otherwise="prospects",
            ),
            "age_band": SegmentationDef(
                name="age_band",
                classes=(
                    ClassDef(name="young", text="age < 30"),
                    ClassDef(name="middle", text="age < 50"),
                ),
            ),
        },
        channels={
            "email": ChannelDef(
                name="email", address="email", consent="email_consent", kind=AddressKind.EMAIL
            ),
            "sms": ChannelDef(
                name="sms",
                address="phone",
                consent="sms_consent",
                kind=AddressKind.PHONE,
                country_code="33",
            ),
        },
    )
    diags = check_schema(schema)
    assert not [d for d in diags if d.is_error], diags
    return schema
