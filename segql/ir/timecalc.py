"""Relative time, resolved in Python against ``as_of`` (CONTRACT §3.5).

Shared by the in-process evaluator and the SQL compiler so both resolve ``30d ago``,
``6mo ago`` and ``today`` identically: the SQL never reads the database clock.

segql handles instants from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z whose
wall-clock time in the schema's zone also falls in years 1 to 9999 (Python's
``datetime``; every supported engine stores these, and years 1..9999 are what the
experimental dialects share). Every computation here refuses to leave that range with a
positioned ``out-of-range`` :class:`CheckError`, never an ``OverflowError``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from segql.core.diagnostics import NO_SPAN, CheckError, Diagnostic, Span
from segql.lang.ast import DurationUnit

__all__ = [
    "MAX_INSTANT",
    "MIN_INSTANT",
    "RANGE_TEXT",
    "ago",
    "date_to_timestamp",
    "days_until_anniversary",
    "guard",
    "local_date",
    "longest_duration",
    "normalize_as_of",
    "out_of_range",
    "today",
]

MIN_INSTANT = dt.datetime.min.replace(tzinfo=dt.UTC)
MAX_INSTANT = dt.datetime.max.replace(tzinfo=dt.UTC)
RANGE_TEXT = "segql handles times from year 1 to 9999 (UTC and in the schema's time zone)"

_EXACT = {
    DurationUnit.SECOND: dt.timedelta(seconds=1),
    DurationUnit.MINUTE: dt.timedelta(minutes=1),
    DurationUnit.HOUR: dt.timedelta(hours=1),
    DurationUnit.DAY: dt.timedelta(days=1),
    DurationUnit.WEEK: dt.timedelta(weeks=1),
}
_MONTHS = {DurationUnit.MONTH: 1, DurationUnit.YEAR: 12}
# Days and weeks move the wall clock of the schema's zone (CONTRACT §5.2): a day before
# 12:00 is 12:00 the day before, also across a daylight-saving change (23 or 25 hours).
_CALENDAR_DAYS = {DurationUnit.DAY: 1, DurationUnit.WEEK: 7}
_SECONDS = {unit: int(delta.total_seconds()) for unit, delta in _EXACT.items()}
_SPAN_SECONDS = int((MAX_INSTANT - MIN_INSTANT).total_seconds())

T = TypeVar("T")


def out_of_range(message: str, span: Span = NO_SPAN, *hints: str) -> CheckError:
    return CheckError(
        Diagnostic(code="out-of-range", message=message, span=span, hints=(*hints, RANGE_TEXT))
    )


def guard(make: Callable[[], T], message: str, span: Span = NO_SPAN, *hints: str) -> T:
    """``make()``, with Python's date overflow turned into an ``out-of-range`` error."""
    try:
        return make()
    except (OverflowError, ValueError):
        raise out_of_range(message, span, *hints) from None


def _show(instant: dt.datetime) -> str:
    i = instant.astimezone(dt.UTC)
    return f"{i.year:04d}-{i.month:02d}-{i.day:02d}T{i.hour:02d}:{i.minute:02d}:{i.second:02d}Z"


def normalize_as_of(as_of: dt.datetime | dt.date | None) -> dt.datetime:
    """``as_of`` as an aware UTC datetime; None is now; naive values are UTC; a date is its
    midnight UTC. An instant outside years 1..9999 in UTC is an ``out-of-range`` error."""
    if as_of is None:
        return dt.datetime.now(dt.UTC)
    if not isinstance(as_of, dt.date):
        raise CheckError(
            Diagnostic(
                code="bad-input",
                message=f"as_of must be a datetime.datetime or datetime.date, not "
                f"{type(as_of).__name__} {as_of!r:.60}",
            )
        )
    if not isinstance(as_of, dt.datetime):
        return dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC)
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        return as_of.replace(tzinfo=dt.UTC)
    return guard(
        lambda: as_of.astimezone(dt.UTC),
        f"as_of {as_of.isoformat()} is not a time in years 1 to 9999 in UTC",
    )


def longest_duration(amount: int, unit: DurationUnit) -> bool:
    """Whether ``amount unit`` is longer than any two supported instants are apart (so no
    ``as_of`` can resolve ``amount unit ago``)."""
    months = _MONTHS.get(unit)
    if months is not None:
        return amount * months > 12 * 9999
    return amount * _SECONDS[unit] > _SPAN_SECONDS


def _minus_months(local: dt.datetime, months: int) -> dt.datetime:
    total = local.year * 12 + (local.month - 1) - months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def _move(instant: dt.datetime, amount: int, unit: DurationUnit, tz: dt.tzinfo) -> dt.datetime:
    """``instant + amount unit``: days and weeks on the wall clock of ``tz``, months and
    years as calendar months there (clamped), shorter units exact."""
    days = _CALENDAR_DAYS.get(unit)
    if days is not None and tz is not dt.UTC:
        local = instant.astimezone(tz).replace(tzinfo=None)
        return _localize(local + dt.timedelta(days=days * amount), tz).astimezone(dt.UTC)
    exact = _EXACT.get(unit)
    if exact is not None:
        return instant + exact * amount
    local = instant.astimezone(tz)
    moved = _minus_months(local.replace(tzinfo=None), -amount * _MONTHS[unit])
    return _localize(moved, tz).astimezone(dt.UTC)


def shift(
    instant: dt.datetime, amount: int, unit: DurationUnit, tz: dt.tzinfo, span: Span = NO_SPAN
) -> dt.datetime:
    """``instant + amount unit`` (``amount`` may be negative), by the rules of :func:`ago`;
    outside years 1 to 9999 is an ``out-of-range`` error at ``span``."""

    sign = "+" if amount >= 0 else "-"
    return guard(
        lambda: _move(instant, amount, unit, tz),
        f"{_show(instant)} {sign} {abs(amount)}{unit.value} is outside years 1 to 9999",
        span,
        RANGE_TEXT,
    )


def ago(
    as_of: dt.datetime,
    amount: int,
    unit: DurationUnit,
    tz: dt.tzinfo,
    span: Span = NO_SPAN,
) -> dt.datetime:
    """``as_of - amount unit``. Seconds, minutes and hours are exact; days and weeks are
    calendar days on the wall clock of ``tz`` (as PostgreSQL's interval arithmetic), and
    months and years calendar months, clamped to the month's last day (Aug 31 - 6mo =
    Feb 28, or 29). A wall-clock time that a daylight-saving change skips or repeats is
    read as :func:`_localize` does. Before year 1 is an ``out-of-range`` error at
    ``span``."""

    return guard(
        lambda: _move(as_of, -amount, unit, tz),
        f"`{amount}{unit.value}` before as_of ({_show(as_of)}) is before year 1",
        span,
        "use a shorter duration, or a later as_of",
    )


def _localize(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Attach ``tz`` to a wall-clock time (fold=0: the first of repeated times; times in a
    spring-forward gap move forward by the gap, as zoneinfo does)."""
    return naive.replace(tzinfo=tz)


def local_date(as_of: dt.datetime, tz: dt.tzinfo, span: Span = NO_SPAN) -> dt.date:
    """as_of's calendar date in ``tz``."""
    return guard(
        lambda: as_of.astimezone(tz).date(),
        f"as_of ({_show(as_of)}) has no date in years 1 to 9999 in the schema's time zone",
        span,
    )


def today(as_of: dt.datetime, tz: dt.tzinfo, span: Span = NO_SPAN) -> dt.datetime:
    """Start of as_of's day in ``tz``, as UTC."""
    return date_to_timestamp(local_date(as_of, tz, span), tz, span)


def date_to_timestamp(d: dt.date, tz: dt.tzinfo, span: Span = NO_SPAN) -> dt.datetime:
    """Midnight of ``d`` in ``tz``, as UTC."""
    return guard(
        lambda: _localize(dt.datetime(d.year, d.month, d.day), tz).astimezone(dt.UTC),
        f"midnight of {d.isoformat()} in the schema's time zone is before year 1 in UTC"
        if d.year == 1
        else f"midnight of {d.isoformat()} in the schema's time zone is after year 9999 in UTC",
        span,
    )


def _ordinal(year: int, month: int, day: int) -> int:
    """Day of the year of month/day in ``year`` (any year, also 10000); Feb 29 falls on
    Feb 28 in common years."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    before = sum(calendar.monthrange(year, m)[1] for m in range(1, month))
    return before + day


def days_until_anniversary(d: dt.date, today_local: dt.date) -> int:
    """Days from ``today_local`` to the next occurrence of d's month and day (0..365)."""
    year = today_local.year
    now = today_local.timetuple().tm_yday
    this = _ordinal(year, d.month, d.day)
    if this >= now:
        return this - now
    length = 366 if calendar.isleap(year) else 365
    return length - now + _ordinal(year + 1, d.month, d.day)


def first_day(period: str, d: dt.date) -> dt.date:
    """The first day of the week (Monday), month or year holding ``d``."""
    if period == "week":
        return d - dt.timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    return d.replace(month=1, day=1)
