"""Days and weeks are calendar units in the schema's time zone (CONTRACT §5.2): across a
daylight-saving change, `within 1d` reaches back to the same wall-clock time yesterday —
23 or 25 hours — in-process and in SQL alike; hours stay exact."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from engines import ChdbData, Dataset, PgDatabase, Table, load_duckdb, require_pg

import segql
from segql.core.types import Type
from segql.ir import timecalc
from segql.lang.ast import DurationUnit

BERLIN = ZoneInfo("Europe/Berlin")
# Berlin's clocks went forward on 2026-03-29 (02:00 -> 03:00) and back on 2026-10-25.
SPRING = dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC)  # 14:00 CEST
AUTUMN = dt.datetime(2026, 10, 25, 12, tzinfo=dt.UTC)  # 13:00 CET


@pytest.mark.parametrize(
    ("as_of", "amount", "unit", "hours"),
    [
        (SPRING, 1, DurationUnit.DAY, 23),  # 14:00 CEST back to 14:00 CET
        (AUTUMN, 1, DurationUnit.DAY, 25),
        (SPRING, 1, DurationUnit.WEEK, 7 * 24 - 1),
        (SPRING, 2, DurationUnit.DAY, 47),
        (SPRING, 24, DurationUnit.HOUR, 24),  # hours are exact
        (dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), 1, DurationUnit.DAY, 24),
    ],
)
def test_ago_moves_the_wall_clock(
    as_of: dt.datetime, amount: int, unit: DurationUnit, hours: int
) -> None:
    got = timecalc.ago(as_of, amount, unit, BERLIN)
    assert as_of - got == dt.timedelta(hours=hours)
    if unit is not DurationUnit.HOUR:
        local, back = as_of.astimezone(BERLIN), got.astimezone(BERLIN)
        assert (local.hour, local.minute) == (back.hour, back.minute)


def test_utc_days_are_24_hours() -> None:
    assert SPRING - timecalc.ago(SPRING, 1, DurationUnit.DAY, dt.UTC) == dt.timedelta(days=1)


def _data() -> Dataset:
    schema = segql.load_schema(
        {
            "timezone": "Europe/Berlin",
            "entity": {"table": "people", "key": "id", "fields": {"seen": "timestamp"}},
            "events": {"visits": {"table": "visits", "key": "pid", "time": "at", "fields": {}}},
        }
    )
    at = [SPRING - dt.timedelta(hours=h) for h in (22.5, 23, 23.5, 24.5)]
    return Dataset(
        schema=schema,
        tables={
            "people": Table(
                columns=[("id", Type.INTEGER), ("seen", Type.TIMESTAMP)],
                rows=[(i + 1, t.replace(tzinfo=None)) for i, t in enumerate(at)],
            ),
            "visits": Table(
                columns=[("pid", Type.INTEGER), ("at", Type.TIMESTAMP)],
                rows=[(i + 1, t.replace(tzinfo=None)) for i, t in enumerate(at)],
            ),
        },
    )


# 22.5 h and exactly 23 h ago are within the (23-hour) day; 23.5 h is not, though it is
# within 24 hours.
CASES = [
    ("has visits within 1d", {1, 2}),
    ("seen within 1d", {1, 2}),
    ("seen < 1d", {1}),
    ("seen <= 1d", {1, 2}),
    ("seen > 1d", {3, 4}),
    ("count(visits within 1d) = 1", {1, 2}),
    ("seen within 24h", {1, 2, 3}),
    ("seen >= 1d ago", {1, 2}),
]


@pytest.mark.parametrize(("expr", "want"), CASES)
def test_in_process_and_duckdb_agree_across_the_change(expr: str, want: set[int]) -> None:
    import duckdb

    data = _data()
    con = duckdb.connect()
    load_duckdb(data, con)
    sql = segql.to_sql(expr, data.schema, as_of=SPRING)
    assert {r[0] for r in con.execute(sql).fetchall()} == want
    contacts = data.tables["people"].rows
    visits = data.tables["visits"].rows
    got = {
        cid
        for cid, seen in contacts
        if segql.matches(
            expr,
            data.schema,
            contact={"id": cid, "seen": seen.replace(tzinfo=dt.UTC)},
            events={"visits": [{"at": a.replace(tzinfo=dt.UTC)} for p, a in visits if p == cid]},
            as_of=SPRING,
        )
    }
    assert got == want


def _berlin_people(times: list[dt.datetime]) -> Dataset:
    data = _data()
    people = Table(
        columns=[("id", Type.INTEGER), ("seen", Type.TIMESTAMP)],
        rows=[(i + 1, t.replace(tzinfo=None)) for i, t in enumerate(times)],
    )
    visits = Table(columns=[("pid", Type.INTEGER), ("at", Type.TIMESTAMP)], rows=[])
    return Dataset(schema=data.schema, tables={"people": people, "visits": visits})


# 22:30 UTC on March 31 is 00:30 on April 1 in Berlin (CEST, UTC+2); 21:59 is still March.
MIDNIGHTS = [
    dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 31, 21, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC),  # Sunday 01:30 CET, before the change
    dt.datetime(2026, 3, 30, 0, 30, tzinfo=dt.UTC),  # Monday 02:30 CEST
    dt.datetime(1968, 12, 31, 23, 30, tzinfo=dt.UTC),  # 00:30 on 1969-01-01 (before 1970)
]
CALENDAR = [
    ("date(seen) = 2026-04-01", {1}),
    ("date(seen) = 2026-03-31", {2}),
    ("start_of_month(seen) = 2026-04-01", {1}),
    ("start_of_month(seen) = 2026-03-01T00:00:00+01:00", {2, 3, 4}),
    ("start_of_week(seen) = 2026-03-23", {3}),  # Monday before the change: CET midnight
    ("start_of_week(seen) = 2026-03-30", {1, 2, 4}),  # Monday after it: CEST midnight
    ("start_of_week(seen) = 2026-03-29T22:00:00Z", {1, 2, 4}),
    ("start_of_year(seen) = 2025-12-31T23:00:00Z", {1, 2, 3, 4}),
    ("date(seen) = 1969-01-01", {5}),
    ("start_of_month(seen) = 1969-01-01", {5}),
]


@pytest.mark.parametrize(("expr", "want"), CALENDAR)
def test_calendar_functions_use_the_schema_zone(expr: str, want: set[int]) -> None:
    _agree(_berlin_people(MIDNIGHTS), expr, SPRING, want)


MONDAY = dt.datetime(2026, 3, 30, 12, tzinfo=dt.UTC)  # the day after clocks went forward
AROUND_YESTERDAY = [
    dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC),  # 00:00 CET on Sunday the 29th
    dt.datetime(2026, 3, 28, 22, 59, tzinfo=dt.UTC),  # 23:59 on Saturday
    dt.datetime(2026, 3, 29, 21, 59, tzinfo=dt.UTC),  # 23:59 CEST on Sunday
    dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC),  # 00:00 CEST on Monday: today
]
SHIFTS = [
    # yesterday was 23 hours long: `today - 1d` is its start, not 24 hours before today
    ("seen >= today - 1d and seen < today", {1, 3}),
    ("seen + 1d = today", {1}),
    ("seen + 1d > today", {3, 4}),
    ("seen + 24h > today", {1, 2, 3, 4}),
    ("seen - 1w < 2026-03-22", {2}),
    ("seen + 1mo >= 2026-04-29", {1, 3, 4}),
    ("now - seen > 1d", {1, 2}),  # 23:59 Sunday + 1 day is 23:59 Monday, after now
    ("now - seen > 37h", {2}),  # 37 hours after 00:00 CET Sunday is now itself
]


@pytest.mark.parametrize(("expr", "want"), SHIFTS)
def test_durations_move_the_wall_clock(expr: str, want: set[int]) -> None:
    _agree(_berlin_people(AROUND_YESTERDAY), expr, MONDAY, want)


def _agree(data: Dataset, expr: str, as_of: dt.datetime, want: set[int]) -> None:
    """The members of ``expr`` (people by their one `seen` time) are ``want`` on DuckDB,
    in-process, on PostgreSQL and on ClickHouse (chdb)."""
    import duckdb

    con = duckdb.connect()
    load_duckdb(data, con)
    sql = segql.to_sql(expr, data.schema, as_of=as_of)
    assert {r[0] for r in con.execute(sql).fetchall()} == want
    got = {
        cid
        for cid, seen in data.tables["people"].rows
        if segql.matches(
            expr,
            data.schema,
            contact={"id": cid, "seen": seen.replace(tzinfo=dt.UTC)},
            as_of=as_of,
        )
    }
    assert got == want
    require_pg()
    for dialect, make in (("postgres", PgDatabase), ("clickhouse", ChdbData)):
        db = make(data)
        try:
            sql = segql.to_sql(expr, data.schema, as_of=as_of, dialect=dialect)
            assert set(db.run(sql)) == want, dialect
        finally:
            db.close()
