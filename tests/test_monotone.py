"""Which way a compiled condition moves as a contact's events accumulate
(backends/sql/monotone.py): named cases over SQL as the compiler writes it, `t.c*` a count
(never null), `t.s*` a sum, `c.*` the contact's fields."""

from __future__ import annotations

import pytest
import sqlglot

from segql.backends.sql.monotone import direction

GROWS = {"c0": True, "c1": True, "s0": False, "s1": False}


@pytest.mark.parametrize(
    ("sql", "want"),
    [
        # rising: once true, more events keep it true
        ("COALESCE(t.c0, 0) >= 5", 1),
        ("t.c0 > 0", 1),
        ("COALESCE((COALESCE(t.c0, 0) >= 5) AND (COALESCE(t.s0, 0) > 1000), FALSE)", 1),
        ("COALESCE((COALESCE(t.s0, 0) > 100), 0)", 1),  # SQLite's FALSE
        ("COALESCE(t.s0, 0) > c.age OR c.vip", 1),
        ("COALESCE(t.c0, 0) + COALESCE(t.c1, 0) > 3", 1),
        ("5 <= COALESCE(t.c0, 0)", 1),
        ("NOT (COALESCE(t.c0, 0) < 2)", 1),
        # falling: once false, more events keep it false
        ("COALESCE(t.c0, 0) < 2", -1),
        ("NOT (COALESCE(t.c0, 0) > 1) AND c.email_consent", -1),
        # constant: reads no aggregate
        ("c.age > 20 AND c.email_consent", 0),
        # unknown: both ways, or a shape whose direction is not known
        ("COALESCE(t.c0, 0) >= 2 AND NOT (COALESCE(t.s0, 0) > 100)", None),
        ("COALESCE(t.c0, 0) = 2", None),
        ("COALESCE(t.s0, 0) BETWEEN 10 AND 100", None),
        ("COALESCE(t.c0, 0) > COALESCE(t.c1, 0)", None),
        ("COALESCE(t.s0, 0) - COALESCE(t.c0, 0) > 3", None),
        ("COALESCE(t.s0, 0) * 2 > 3", None),
        ("t.s0 > 100", None),  # a sum's null becoming a value may fall
        ("COALESCE(t.s0, 5) > 4", None),  # 5, then a sum of 1
        ("COALESCE(t.c0, 0) / 2 > 3", None),
        ("(COALESCE(t.c0, 0) > 3) IS NULL", None),
    ],
)
def test_the_direction_of_a_condition(sql: str, want: int | None) -> None:
    assert direction(sqlglot.parse_one(sql), "t", GROWS) == want
