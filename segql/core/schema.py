"""The schema model (CONTRACT §2): how segql names map onto tables and columns.

Loading and validating files lives in :mod:`segql.config`; type-checking traits, stream
filters and segments lives in :mod:`segql.checker`. This module is plain data.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from segql.core.diagnostics import Diagnostic, Span
from segql.core.types import Type

__all__ = [
    "AddressKind",
    "ArmDef",
    "ChannelDef",
    "Entity",
    "ExperimentDef",
    "FieldDef",
    "Located",
    "Schema",
    "SegmentDef",
    "Source",
    "Stream",
    "TraitDef",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """Where something was written: a file (None for dicts), its text, and a span in it.

    ``offsets`` maps each character offset of an embedded expression to its offset in
    the file (None when the expression is not embedded in a file)."""

    file: str | None = None
    text: str | None = None
    span: Span | None = None
    offsets: tuple[int, ...] | None = None


NOWHERE = Located()


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldDef:
    name: str
    type: Type
    column: str
    values: tuple[str, ...] | None = None
    description: str | None = None
    where: Located = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A table (or view) in the database, or a Parquet / CSV file (absolute path)."""

    table: str | None = None
    file: Path | None = None

    @property
    def reserved(self) -> bool:
        """An unqualified table named like the parts of segql's own statements (its CTEs,
        `segql_…`), one of which would hide it (`reserved-table`)."""
        t = self.table
        return t is not None and "." not in t and t.lower().startswith("segql_")

    @property
    def reserved_hint(self) -> str:
        return (
            f"rename the table or view, or qualify it with its schema: `main.{self.table}`, "
            f"`public.{self.table}`"
        )

    @property
    def label(self) -> str:
        return self.table if self.table is not None else str(self.file)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    source: Source
    key: str  # column
    fields: dict[str, FieldDef]
    where: Located = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    name: str
    source: Source
    key: str  # column holding the contact's key
    time: str  # event time column
    fields: dict[str, FieldDef]
    filter_text: str | None = None
    filter_where: Located = NOWHERE
    description: str | None = None
    where: Located = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class TraitDef:
    name: str
    text: str
    description: str | None = None
    where: Located = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentDef:
    name: str
    text: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    where: Located = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassDef:
    """One class of a segmentation: a name and its condition."""

    name: str
    text: str
    where: Located = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentationDef:
    """Ordered, mutually exclusive classes (CONTRACT §6.1): a contact is in the first class
    whose condition is true, else in ``otherwise`` (or none: null)."""

    name: str
    classes: tuple[ClassDef, ...]
    otherwise: str | None = None
    description: str | None = None
    where: Located = NOWHERE  # the segmentation's name

    @property
    def values(self) -> tuple[str, ...]:
        """Every value it can take: the class names, then ``otherwise``."""
        names = tuple(c.name for c in self.classes)
        return names if self.otherwise is None else (*names, self.otherwise)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmDef:
    """One arm of an experiment and its weight (a positive number)."""

    name: str
    weight: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentDef:
    """An experiment (CONTRACT §6.5): the audience (a condition, or a segment's name)
    evaluated once at ``start``, split into weighted arms by ``bucket(salt)``; the goal
    evaluated over the events in ``(start, start + window]``."""

    name: str
    audience: str
    start: dt.datetime  # aware, UTC
    salt: str
    arms: tuple[ArmDef, ...]
    goal: str
    window: tuple[int, str]  # amount and unit (a DurationUnit's value: "d", "w", …)
    window_text: str
    description: str | None = None
    where: Located = NOWHERE  # the experiment's name
    audience_where: Located = NOWHERE
    goal_where: Located = NOWHERE

    def bounds(self) -> tuple[int, ...]:
        """The exclusive upper bucket of each arm: arm i takes the buckets b with
        ``10000·(w1+…+w(i−1))/W ≤ b < 10000·(w1+…+wi)/W``; b is a whole number, so
        ``b < x`` is ``b < ceil(x)`` (exact arithmetic: no rounding at the edges)."""
        total = sum((a.weight for a in self.arms), Decimal(0))
        out: list[int] = []
        cum = Decimal(0)
        for arm in self.arms:
            cum += arm.weight
            x = Fraction(cum) * 10000 / Fraction(total)
            out.append(math.ceil(x))
        return tuple(out)


class AddressKind(enum.Enum):
    """How a channel's address is normalized before it is hashed (docs/privacy.md)."""

    EMAIL = "email"  # trimmed, lower-cased
    PHONE = "phone"  # digits only, with the country code
    NONE = "none"  # as stored


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDef:
    """A way to reach a contact (CONTRACT §8): the profile field holding the address and
    the boolean field recording consent. ``country_code`` completes phone numbers written
    without one; ``where`` is the channel's name in the file."""

    name: str
    address: str  # a string profile field
    consent: str  # a boolean profile field
    kind: AddressKind = AddressKind.NONE
    country_code: str | None = None  # digits, e.g. "33"
    description: str | None = None
    where: Located = NOWHERE


@dataclass(slots=True, kw_only=True, weakref_slot=True)
class Schema:
    """A loaded schema: plain data. The typed trees of its definitions are kept beside it
    (:mod:`segql.ir.definitions`), never on it; ``warnings`` keeps the non-error
    diagnostics found while loading, ``broken`` the segments a lenient load skipped."""

    timezone: str
    entity: Entity
    streams: dict[str, Stream]
    traits: dict[str, TraitDef] = field(default_factory=dict)
    segments: dict[str, SegmentDef] = field(default_factory=dict)
    segmentations: dict[str, SegmentationDef] = field(default_factory=dict)
    experiments: dict[str, ExperimentDef] = field(default_factory=dict)
    channels: dict[str, ChannelDef] = field(default_factory=dict)
    path: Path | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    # Segments skipped by a lenient load (``strict=False``), with their errors.
    broken: dict[str, tuple[Diagnostic, ...]] = field(default_factory=dict)

    @property
    def tz(self) -> dt.tzinfo:
        return dt.UTC if self.timezone.upper() == "UTC" else ZoneInfo(self.timezone)

    @property
    def key_field(self) -> str:
        return self.entity.key
