"""Relative time, resolved in Python against ``as_of`` (CONTRACT §3.5).

Shared by the in-process evaluator and the SQL compiler so both resolve ``30d ago``,
``6mo ago`` and ``today`` identically: the SQL never reads the database clock.
"""

from __future__ import annotations

import calendar
import datetime as dt

from .ast import DurationUnit

__all__ = [
    "ago",
    "date_to_timestamp",
    "days_until_anniversary",
    "local_date",
    "normalize_as_of",
    "today",
]

_EXACT = {
    DurationUnit.SECOND: dt.timedelta(seconds=1),
    DurationUnit.MINUTE: dt.timedelta(minutes=1),
    DurationUnit.HOUR: dt.timedelta(hours=1),
    DurationUnit.DAY: dt.timedelta(days=1),
    DurationUnit.WEEK: dt.timedelta(weeks=1),
}


def normalize_as_of(as_of: dt.datetime | dt.date | None) -> dt.datetime:
    """``as_of`` as an aware UTC datetime; None is now; naive values are UTC; a date is its
    midnight UTC."""
    if as_of is None:
        return dt.datetime.now(dt.UTC)
    if not isinstance(as_of, dt.datetime):
        return dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC)
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=dt.UTC)
    return as_of.astimezone(dt.UTC)


def _minus_months(local: dt.datetime, months: int) -> dt.datetime:
    total = local.year * 12 + (local.month - 1) - months
    year, month0 = divmod(total, 12)
    month = month0 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def ago(as_of: dt.datetime, amount: int, unit: DurationUnit, tz: dt.tzinfo) -> dt.datetime:
    """``as_of - amount unit``. Seconds to weeks are exact (a day is 24 hours); months and
    years are calendar units on the wall clock of ``tz``, clamped to the month's last day
    (Aug 31 - 6mo = Feb 28, or 29)."""
    exact = _EXACT.get(unit)
    if exact is not None:
        return as_of - exact * amount
    months = amount * (12 if unit is DurationUnit.YEAR else 1)
    local = as_of.astimezone(tz)
    shifted = _minus_months(local.replace(tzinfo=None), months)
    return _localize(shifted, tz).astimezone(dt.UTC)


def _localize(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Attach ``tz`` to a wall-clock time (fold=0: the first of repeated times; times in a
    spring-forward gap move forward by the gap, as zoneinfo does)."""
    return naive.replace(tzinfo=tz)


def local_date(as_of: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return as_of.astimezone(tz).date()


def today(as_of: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Start of as_of's day in ``tz``, as UTC."""
    return date_to_timestamp(local_date(as_of, tz), tz)


def date_to_timestamp(d: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """Midnight of ``d`` in ``tz``, as UTC."""
    return _localize(dt.datetime(d.year, d.month, d.day), tz).astimezone(dt.UTC)


def anniversary_in(year: int, month: int, day: int) -> dt.date:
    """The date of month/day in ``year``; Feb 29 falls on Feb 28 in common years."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    return dt.date(year, month, day)


def days_until_anniversary(d: dt.date, today_local: dt.date) -> int:
    """Days from ``today_local`` to the next occurrence of d's month and day (0..365)."""
    this = anniversary_in(today_local.year, d.month, d.day)
    if this < today_local:
        this = anniversary_in(today_local.year + 1, d.month, d.day)
    return (this - today_local).days
