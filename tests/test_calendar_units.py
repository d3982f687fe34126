"""Days and weeks are calendar units in the schema's time zone (CONTRACT §5.2): across a
daylight-saving change, `within 1d` reaches back to the same wall-clock time yesterday —
23 or 25 hours — in-process and in SQL alike; hours stay exact."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from engines import Dataset, Table, load_duckdb

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
