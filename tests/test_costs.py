"""Costs the expression limits alone do not bound (issue 9, item 20).

Shared subexpressions are computed once (one window per ranking, one CTE per shared
subexpression that matters, one closure value per contact), chains of definitions of any
length stay clear of Python's recursion limit, and the cost limits of `segql.Limits` turn
whatever is too big into a `limit-exceeded` error where it is defined.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from corpus_data import CONTACT_COLUMNS, EMAIL_COLUMNS, ORDER_COLUMNS
from engines import Dataset, Table, assert_engines_agree, load_duckdb, require_pg, run_rows
from gen import AS_OF, datasets, expressions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop_schema import shop_schema

import segql
from segql.backends.python import Predicate
from segql.backends.sql import plan as sql
from segql.checker import check_schema, typed
from segql.core.schema import Schema, SegmentDef, TraitDef
from segql.ir.definitions import definitions

# --- helpers -------------------------------------------------------------------------------


def _schema(
    traits: dict[str, str] | None = None,
    segments: dict[str, str] | None = None,
    limits: segql.Limits | None = None,
) -> Schema:
    """The shop schema of the tests with more traits and segments, checked."""
    base = shop_schema()
    schema = dataclasses.replace(
        base,
        traits={**base.traits, **{n: TraitDef(name=n, text=t) for n, t in (traits or {}).items()}},
        segments={
            **base.segments,
            **{n: SegmentDef(name=n, text=t) for n, t in (segments or {}).items()},
        },
    )
    diags = check_schema(schema) if limits is None else check_schema(schema, limits=limits)
    errors = [d for d in diags if d.is_error]
    assert not errors, errors
    return schema


def _data(schema: Schema, n: int = 48) -> Dataset:
    """Deterministic contacts (ages 0–89 with nulls) and a few orders and emails each."""
    contacts: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    emails: list[tuple[Any, ...]] = []
    for i in range(1, n + 1):
        age = None if i % 9 == 0 else (i * 37) % 90
        contacts.append(
            (i, f"c{i}@x.com", None, age, ["DE", "US", "FR", None][i % 4], None, None, None,
             i % 3 == 0, None, Decimal(i % 7), None, None, None, None, None, None)
        )  # fmt: skip
        for k in range(i % 5):
            orders.append(
                (i, AS_OF - dt.timedelta(days=11 * k + i % 13), Decimal((i * k) % 17) / 4,
                 ["shoes", "bags", None][k % 3], "p", k, k % 2 == 0)
            )  # fmt: skip
        if i % 4:
            emails.append((i, AS_OF - dt.timedelta(days=i % 40), "open", "may"))
    return Dataset(
        schema=schema,
        tables={
            "contacts": Table(CONTACT_COLUMNS, contacts),
            "orders": Table(ORDER_COLUMNS, orders),
            "email_events": Table(EMAIL_COLUMNS, emails),
        },
    )


def _members(data: Dataset, expr: str) -> set[Any]:
    """In-process members: the reference every engine must agree with."""
    pred = Predicate(typed(expr, data.schema), data.schema)
    return {c["id"] for c in data.contacts() if pred(c, data.events_of(c["id"]), AS_OF)}


def _agree(data: Dataset, *exprs: str) -> None:
    assert_engines_agree(data, exprs, lambda e: _members(data, e), as_of=AS_OF, pg=False)


def _ctes(text: str) -> int:
    return text.count(" AS (\n") + text.count(" AS MATERIALIZED (\n")


def _doubling_segments(n: int) -> dict[str, str]:
    segs = {"s0": "age > 30"}
    for i in range(1, n + 1):
        segs[f"s{i}"] = f"in segment s{i - 1} and (in segment s{i - 1} or age > {i})"
    return segs


def _doubling_traits(n: int) -> dict[str, str]:
    traits = {"t0": "sum(orders.amount)"}
    for i in range(1, n + 1):
        traits[f"t{i}"] = f"t{i - 1} + t{i - 1}"
    return traits


def _segment_chain(n: int) -> dict[str, str]:
    segs = {"s0": "age > 0"}
    for i in range(1, n + 1):
        segs[f"s{i}"] = f"in segment s{i - 1} and age > {i}"
    return segs


def _trait_chain(n: int) -> dict[str, str]:
    traits = {"t0": "count(orders)"}
    for i in range(1, n + 1):
        traits[f"t{i}"] = f"t{i - 1} + {i}"
    return traits


# --- equal rankings share one window -----------------------------------------------------


@pytest.mark.parametrize(
    ("join", "same_as"), [("or", "percentile(age) > 0"), ("and", "percentile(age) > 49")]
)
def test_equal_rankings_share_one_window(join: str, same_as: str) -> None:
    """300 × `percentile(age) > i` on 20,000 contacts: one window CTE, not 300 (main: 300
    windows and joins, 18.6 s on one thread and several GB; here 0.02 s)."""
    import duckdb

    schema = shop_schema()
    expr = f" {join} ".join(f"percentile(age) > {i % 50}" for i in range(300))
    text = segql.to_sql(expr, schema, as_of=AS_OF)
    assert text.count("PERCENT_RANK()") == 1 and _ctes(text) == 1
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE contacts AS SELECT i AS id, "
        "CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919) % 90 END AS age FROM range(20000) t(i)"
    )
    start = time.perf_counter()
    got = {r[0] for r in con.execute(text).fetchall()}
    assert time.perf_counter() - start < 5
    want = {r[0] for r in con.execute(segql.to_sql(same_as, schema, as_of=AS_OF)).fetchall()}
    assert got == want and 0 < len(got) < 20_000


def test_equal_rankings_inside_shared_segments_share_one_window() -> None:
    schema = _schema(
        segments={"best": "top 10% by total_spent", "a": "in segment best and age > 3"}
    )
    text = segql.to_sql("in segment a or (in segment best and top 10% by total_spent)", schema)
    assert text.count("RANK()") == 1


def test_nested_rankings_get_their_own_windows() -> None:
    """A ranking of a ranking used to give two CTEs the same name."""
    data = _data(shop_schema())
    text = segql.to_sql("percentile(percentile(age) * -1) > 50", data.schema, as_of=AS_OF)
    assert '"segql_p0"' in text and '"segql_p1"' in text and _ctes(text) == 2
    con = load_duckdb(data)
    got = set(run_rows(con, text))
    want = set(
        run_rows(
            con,
            "SELECT id FROM (SELECT id, 100.0 * PERCENT_RANK() OVER (ORDER BY -p) AS q FROM "
            "(SELECT id, 100.0 * PERCENT_RANK() OVER (ORDER BY age) AS p FROM contacts "
            "WHERE age IS NOT NULL)) WHERE q > 50",
        )
    )
    assert got == want and got


# --- definitions used more than once are compiled once --------------------------------------


def test_doubling_segments_compile_once() -> None:
    """16 segments `s{i}: in segment s{i-1} and (in segment s{i-1} or …)` (main: 44 s and
    120 MB of SQL for `to_sql`, 12 s for `matches`)."""
    data = _data(_schema(segments=_doubling_segments(16)))
    start = time.perf_counter()
    text = segql.to_sql("in segment s16", data.schema, as_of=AS_OF)
    assert len(text) < 40_000 and _ctes(text) <= 16  # at most one per segment
    assert time.perf_counter() - start < 5
    _agree(data, "in segment s16", "in segment s16 and not in segment s3", "in segment s9")


def test_doubling_traits_compile_once() -> None:
    """20 traits `t{i}: t{i-1} + t{i-1}` (main: 103 s and 123 MB of SQL for `to_sql`)."""
    data = _data(_schema(traits=_doubling_traits(20)))
    text = segql.to_sql("t20 > 1000", data.schema, as_of=AS_OF)
    assert len(text) < 20_000 and _ctes(text) <= 25
    _agree(data, "t20 > 1000", "t20 > 2000000 or t3 < 8", "t1 * t19 > 1000000")


@pytest.mark.parametrize("n", [60, 84])
def test_doubling_far_beyond_any_tree_stays_linear(n: int) -> None:
    """2**84 copies written out (s84 is just within the depth limit): compiling and
    evaluating must only touch the DAG."""
    schema = _schema(segments=_doubling_segments(n), traits=_doubling_traits(n))
    start = time.perf_counter()
    seg = segql.to_sql(f"in segment s{n}", schema, as_of=AS_OF)
    trait = segql.to_sql(f"t{n} > 5", schema, as_of=AS_OF)
    assert len(seg) < 3_000 * n and len(trait) < 3_000 * n
    contact = {"id": 1, "age": 40}
    events = {"orders": [{"ordered_at": AS_OF, "amount": Decimal("0.25")}]}
    assert segql.matches(f"in segment s{n}", schema, contact=contact, as_of=AS_OF)
    assert segql.matches(f"t{n} > 5", schema, contact=contact, events=events, as_of=AS_OF)
    assert time.perf_counter() - start < 5


def test_values_returned_beside_the_key_are_compiled_once_too() -> None:
    """`members --fields t30`: the exported values share CTEs with the condition."""
    from segql.backends.sql.dialects import profile_for
    from segql.backends.sql.plan import SqlOptions
    from segql.backends.sql.query import build_query, render
    from segql.pipeline import compile

    data = _data(_schema(traits=_doubling_traits(30)))
    ir_of = definitions(data.schema).traits
    profile = profile_for("duckdb")
    assert profile is not None
    options = SqlOptions(select=(("t30", ir_of["t30"]), ("t29", ir_of["t29"])))
    texpr = compile("t29 > 1", data.schema)
    query = build_query(texpr, data.schema, profile=profile, as_of=AS_OF, options=options)
    text = render(query, profile)
    assert len(text) < 20_000
    rows = load_duckdb(data).execute(text).fetchall()
    want = {c["id"]: c for c in data.contacts()}
    for key, t30, t29 in rows:
        pred = Predicate(ir_of["t30"], data.schema)
        assert pred.value(want[key], data.events_of(key), AS_OF) == t30 == 2 * t29


def test_shared_nodes_are_evaluated_once_per_contact() -> None:
    """The evaluator keeps a shared node's value for the contact: each of the 40 doubled
    traits is computed once (2**40 times in the tree written out)."""
    schema = _schema(traits=_doubling_traits(40))
    calls = 0

    class Counting(Predicate):
        def visible(self, env: Any, stream: str) -> Any:
            nonlocal calls
            calls += 1
            return super().visible(env, stream)

    pred = Counting(typed("t40 > 5 and t40 < 1 + t40", schema), schema)
    events = {"orders": [{"ordered_at": AS_OF, "amount": Decimal("0.25")}]}
    assert pred({"id": 1}, events, AS_OF)
    assert calls == 1


def test_shared_subexpressions_of_one_level_share_one_cte() -> None:
    """70 segments, each written 3 times: inline, 25,000 nodes of SQL (over the budget),
    so each gets computed once, all in one CTE (one join, not 70: SQLite allows 64)."""
    segs = {f"m{k}": " or ".join(f"age = {k * 100 + j}" for j in range(40)) for k in range(70)}
    segs["all"] = " or ".join(
        f"(in segment m{k} and (in segment m{k} or not in segment m{k}))" for k in range(70)
    )
    data = _data(_schema(segments=segs), n=60)
    text = segql.to_sql("in segment all", data.schema, as_of=AS_OF)
    assert _ctes(text) == 1 and '"v69"' in text
    _agree(data, "in segment all")


def test_sqlite_refuses_more_than_64_joins() -> None:
    schema = _schema(traits=_doubling_traits(70))
    text = " or ".join(f"t{i} > {i}" for i in range(1, 71))  # 70 levels of shared CTEs
    with pytest.raises(segql.CheckError) as info:
        segql.to_sql(text, schema, dialect="sqlite")
    assert info.value.code == "unsupported-construct" and "64 tables" in str(info.value)
    data = _data(schema)
    con = load_duckdb(data)
    assert set(run_rows(con, segql.to_sql(text, schema, as_of=AS_OF))) == _members(data, text)


def test_ordinary_segments_keep_their_sql() -> None:
    """Sharing that costs nothing stays inline (the SQL snapshots pin the rest)."""
    schema = _schema(traits={"aov": "total_spent / purchases"}, segments={"big": "aov > 50"})
    text = segql.to_sql("aov > 10 and aov < 100 and in segment big", schema, as_of=AS_OF)
    assert '"segql_s' not in text


# --- long chains: no RecursionError ------------------------------------------------------


def test_chain_of_80_segments() -> None:
    """`s{i}: in segment s{i-1} and age > {i}` (main: RecursionError in to_sql at 65)."""
    data = _data(_schema(segments=_segment_chain(80)))
    assert segql.check("in segment s80", data.schema) == []
    for dialect in ("duckdb", "postgres", "sqlite", "bigquery"):
        segql.to_sql("in segment s80", data.schema, dialect=dialect, as_of=AS_OF)
    _agree(data, "in segment s80", "not in segment s80 and in segment s40")
    assert _members(data, "in segment s80") == {
        c["id"] for c in data.contacts() if (c["age"] or 0) > 80
    }


def test_chain_of_200_traits() -> None:
    """`t{i}: t{i-1} + {i}` (main: RecursionError in to_sql)."""
    data = _data(_schema(traits=_trait_chain(200)))
    assert segql.check("t200 > 20102", data.schema) == []
    _agree(data, "t200 > 20102", "t200 = 20100 + purchases")


@pytest.mark.postgres
def test_shared_and_deep_definitions_on_postgres() -> None:
    require_pg()
    cases = [
        (_schema(segments=_doubling_segments(16)), ["in segment s16"]),
        (_schema(traits=_doubling_traits(20)), ["t20 > 1000", "t1 * t19 > 1000000"]),
        (_schema(segments=_segment_chain(80)), ["in segment s80"]),
        (_schema(traits=_trait_chain(200)), ["t200 > 20102"]),
    ]
    for schema, exprs in cases:
        data = _data(schema)
        assert_engines_agree(data, exprs, lambda e, d=data: _members(d, e), as_of=AS_OF, pg=True)


def _catalog_file(tmp_path: Path, segments: dict[str, str]) -> Path:
    lines = ["segments:"]
    for name, where in segments.items():
        lines += [f"  {name}:", f"    where: {where}"]
    path = tmp_path / "catalog.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SCHEMA_DOC = {
    "timezone": "UTC",
    "entity": {"table": "contacts", "key": "id", "fields": {"age": "integer"}},
    "events": {
        "orders": {
            "table": "orders",
            "key": "contact_id",
            "time": "ordered_at",
            "fields": {"amount": "decimal"},
        }
    },
}


def test_definitions_used_before_they_are_defined(tmp_path: Path) -> None:
    """A catalog listing each segment before the ones it uses (main: RecursionError while
    loading a chain of 200)."""
    chain = _segment_chain(120)
    path = _catalog_file(tmp_path, dict(reversed(chain.items())))
    schema = segql.load_schema(SCHEMA_DOC, catalogs=[path])
    assert segql.matches("in segment s120", schema, contact={"id": 1, "age": 121})
    assert not segql.matches("in segment s120", schema, contact={"id": 1, "age": 120})


def test_a_long_cycle_is_reported_at_the_reference_that_closes_it(tmp_path: Path) -> None:
    """main: RecursionError."""
    n = 500
    path = _catalog_file(tmp_path, {f"s{i}": f"in segment s{(i + 1) % n}" for i in range(n)})
    with pytest.raises(segql.SchemaError) as info:
        segql.load_schema(SCHEMA_DOC, catalogs=[path])
    first = info.value.diagnostics[0]
    assert first.code == "cycle"
    assert first.message.endswith("s0 -> s1 -> s2 -> s3 -> … -> s498 -> s499 -> s0 (500 in all)")
    assert (first.line, first.column) == (1 + 2 * n, 12)  # in s499, at `in segment s0`
    assert {d.code for d in info.value.diagnostics[1:]} == {"broken-segment"}


def test_errors_of_a_used_definition_are_placed_where_it_is_defined(tmp_path: Path) -> None:
    """main placed b's error at 6:1, through a's offsets."""
    path = _catalog_file(tmp_path, {"a": "in segment b and age > 3", "b": "age > 'x'"})
    with pytest.raises(segql.SchemaError) as info:
        segql.load_schema(SCHEMA_DOC, catalogs=[path])
    first, second = info.value.diagnostics
    assert (first.code, first.line, first.column) == ("type-mismatch", 5, 18)
    assert (second.code, second.line, second.column) == ("broken-segment", 3, 12)


def test_segment_inside_an_event_condition_reads_the_contact() -> None:
    """It once compiled into a pass that read its own CTE; now (CONTRACT §5.3) the
    aggregate is a query of its own, joined to the contact's segment, never to itself."""
    schema = shop_schema()
    for text in ("count(orders where in segment vip) > 1", "has orders where (in segment buyers)"):
        assert segql.check(text, schema) == []
        for dialect in ("duckdb", "postgres", "clickhouse"):
            sql = segql.to_sql(text, schema, dialect=dialect)
            # each CTE reads only those written before it
            names = re.findall(r'^\s*"(segql_\w+)" AS', sql, re.M)
            for i, name in enumerate(names):
                body = sql.split(f'"{name}" AS', 1)[1]
                body = body.split(f'"{names[i + 1]}" AS', 1)[0] if i + 1 < len(names) else body
                later = set(names[i:])
                assert not {n for n in later if f'FROM "{n}"' in body or f'JOIN "{n}"' in body}


# --- the cost limits ---------------------------------------------------------------------


def test_a_chain_beyond_the_depth_limit_is_refused_where_it_is_defined(tmp_path: Path) -> None:
    path = _catalog_file(tmp_path, _segment_chain(200))
    with pytest.raises(segql.SchemaError) as info:
        segql.load_schema(SCHEMA_DOC, catalogs=[path])
    first = info.value.diagnostics[0]
    assert first.code == "limit-exceeded"
    assert "segment `s128` is nested 258 levels deep" in first.message
    assert "the limit is 256" in first.message
    # s128 is the 129th segment: its `where:` is on line 1 + 2 * 129.
    assert (first.file, first.line, first.column) == (str(path), 259, 12)
    assert all(d.code == "broken-segment" for d in info.value.diagnostics[1:])


def test_expressions_beyond_the_limits_raise_limit_errors() -> None:
    schema = _schema(segments=_segment_chain(127), traits=_trait_chain(255))
    for text in ("in segment s127", "t255 > 0 and age > 1"):
        with pytest.raises(segql.LimitError) as info:
            segql.to_sql(text, schema)
        assert (
            info.value.code == "limit-exceeded"
            and "the limit is 256" in info.value.diagnostic.message
        )
        with pytest.raises(segql.LimitError):
            segql.matches(text, schema, contact={"id": 1})
        (d,) = segql.check(text, schema)
        assert d.code == "limit-exceeded" and (d.line, d.column) == (1, 1)
    with pytest.raises(segql.LimitError):  # a typed tree is held to the limits too
        segql.to_sql(
            definitions(schema).segments["s127"], schema, limits=segql.Limits(max_expanded_depth=99)
        )


def test_too_many_nodes() -> None:
    big = {f"big{k}": " or ".join(f"age = {k * 1000 + j}" for j in range(450)) for k in range(8)}
    schema = _schema(segments=big)
    text = " or ".join(f"in segment big{k}" for k in range(8))
    with pytest.raises(segql.LimitError) as info:
        segql.to_sql(text, schema)
    assert "more than 10,000 nodes" in info.value.diagnostic.message
    raised = segql.Limits(max_nodes=20_000)
    start = time.perf_counter()
    segql.to_sql(text, schema, limits=raised)
    assert segql.matches(text, schema, contact={"id": 1, "age": 7_449}, limits=raised)
    assert time.perf_counter() - start < 5


def test_too_many_windows() -> None:
    schema = shop_schema()
    text = " or ".join(f"percentile(age + {i}) > 50" for i in range(17))
    with pytest.raises(segql.LimitError) as info:
        segql.to_sql(text, schema)
    assert "17 different values" in info.value.diagnostic.message
    assert "the limit is 16" in info.value.diagnostic.message
    assert segql.to_sql(text, schema, limits=segql.Limits(max_windows=17)).count("RANK()") == 17
    # Equal rankings count once.
    segql.to_sql(" or ".join(f"percentile(age) > {i}" for i in range(100)), schema)


def test_limits_are_configurable_on_every_entry_point() -> None:
    tight = segql.Limits(max_expanded_depth=10)  # s{i} is 2 * i + 2 deep
    doc = {**SCHEMA_DOC, "segments": {k: {"where": v} for k, v in _segment_chain(6).items()}}
    schema = segql.load_schema(doc)
    with pytest.raises(segql.SchemaError) as info:
        segql.load_schema(doc, limits=tight)
    assert info.value.code == "limit-exceeded" and "segment `s5`" in info.value.diagnostic.message
    assert [d.code for d in segql.check("in segment s4", schema, limits=tight)] == [
        "limit-exceeded"
    ]
    assert segql.check("in segment s3", schema, limits=tight) == []
    with pytest.raises(segql.LimitError):
        segql.to_sql("in segment s4", schema, limits=tight)
    with pytest.raises(segql.LimitError):
        segql.matches("in segment s4", schema, contact={"id": 1}, limits=tight)
    assert segql.matches("in segment s5", schema, contact={"id": 1, "age": 9})


def test_limits_must_be_positive_ints() -> None:
    with pytest.raises(ValueError, match="max_nodes"):
        segql.Limits(max_nodes=0)
    with pytest.raises(ValueError, match="max_windows"):
        segql.Limits(max_windows=2.5)  # type: ignore[arg-type]


def test_defaults_leave_room_for_real_catalogs() -> None:
    """The shop catalog is far below every default limit."""
    root = Path(__file__).parent.parent / "examples" / "shop"
    tight = segql.Limits(max_expanded_depth=16, max_nodes=200, max_windows=3)  # RFM: 3
    schema = segql.load_schema(
        root / "schema.yaml", catalogs=[root / "segments.yaml"], limits=tight
    )
    assert definitions(schema).segments


def test_raised_limits_never_let_a_recursion_error_escape() -> None:
    """Limits raised far beyond their defaults: a LimitError at worst, never a crash."""
    huge = segql.Limits(
        max_length=10**7, max_depth=10**6, max_terms=10**7, max_expanded_depth=10**6
    )
    schema = _schema(segments=_segment_chain(600), limits=huge)
    text = segql.to_sql("in segment s600", schema, as_of=AS_OF, limits=huge)
    assert _ctes(text) > 10  # the depth is cut into CTEs
    try:
        segql.matches("in segment s600", schema, contact={"id": 1, "age": 3}, limits=huge)
    except segql.LimitError as e:
        assert e.code == "limit-exceeded"
    deep = "not " * 3_000 + "age > 1"
    diags = segql.check(deep, schema, limits=huge)
    assert [d.code for d in diags] == ["limit-exceeded"]
    for call in (
        lambda: segql.to_sql(deep, schema, limits=huge),
        lambda: segql.matches(deep, schema, contact={"id": 1}, limits=huge),
        lambda: segql.to_sql("-" * 3_000 + "'x' > 1", schema, limits=huge),
    ):
        with pytest.raises(segql.SegqlError) as info:
            call()
        assert info.value.code in ("limit-exceeded", "type-mismatch")


# --- sharing never changes a result -------------------------------------------------------


SHAPES = [
    "{a} and ({a} or {b})",
    "not ({a} and {b}) or {c}",
    "({a} or {c}) and not {b}",
    "{a} or {a} or {b} and {c}",
]


@st.composite
def shared_catalogs(draw: Any) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Segments that use earlier ones several times, a doubling trait, and expressions."""
    segments: dict[str, str] = {}
    for i in range(draw(st.integers(1, 3))):
        segments[f"base{i}"] = draw(expressions)
    names = list(segments)
    for i in range(draw(st.integers(1, 4))):
        refs = [f"in segment {draw(st.sampled_from(names))}" for _ in range(3)]
        a, b, c = refs
        shape = draw(st.sampled_from(SHAPES))
        name = f"mix{i}"
        segments[name] = shape.format(a=a, b=b, c=c)
        names.append(name)
    traits = {"d0": "coalesce(age, 1) + purchases", "d1": "d0 + d0", "d2": "d1 * 2 - d1 + d0"}
    exprs = [
        f"in segment {names[-1]}",
        f"in segment {names[-1]} or (d2 > 40 and in segment {names[0]})",
        f"d2 + d1 > 30 and not in segment {draw(st.sampled_from(names))}",
    ]
    return traits, segments, exprs


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), catalog=shared_catalogs())
def test_sharing_never_changes_members(
    data: Dataset, catalog: tuple[dict[str, str], dict[str, str], list[str]]
) -> None:
    _check_sharing(data, catalog, pg=False)


@pytest.mark.postgres
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=datasets(), catalog=shared_catalogs())
def test_sharing_never_changes_members_on_postgres(
    data: Dataset, catalog: tuple[dict[str, str], dict[str, str], list[str]]
) -> None:
    require_pg()
    _check_sharing(data, catalog, pg=True)


def _check_sharing(
    data: Dataset, catalog: tuple[dict[str, str], dict[str, str], list[str]], *, pg: bool
) -> None:
    traits, segments, exprs = catalog
    shared = Dataset(schema=_schema(traits=traits, segments=segments), tables=data.tables)
    want = {e: _members(shared, e) for e in exprs}
    # Everything shared in its own CTE, depth cut every 2 levels; then the defaults.
    for size, depth in ((0, 2), (sql.HOIST_SIZE, sql.HOIST_DEPTH)):
        with (
            mock.patch.object(sql, "HOIST_SIZE", size),
            mock.patch.object(sql, "HOIST_DEPTH", depth),
        ):
            assert_engines_agree(shared, exprs, want.__getitem__, as_of=AS_OF, pg=pg)
    # Rankings of shared values (no in-process answer): hoisted SQL against SQL with
    # nothing hoisted, on DuckDB.
    last = exprs[0].removeprefix("in segment ")
    ranked = [
        f"percentile(d2) > 40 or {exprs[0]}",
        f"top 30% by (d1 + d2) and not {exprs[0]}",
        f"percentile(percentile(d2) + d1) >= 50 and (in segment {last} or d1 > 3)",
    ]
    con = load_duckdb(shared)
    try:
        with mock.patch.multiple(sql, HOIST_SIZE=10**9, HOIST_DEPTH=10**9, SQL_BUDGET=10**9):
            plain = {
                e: set(run_rows(con, segql.to_sql(e, shared.schema, as_of=AS_OF))) for e in ranked
            }
        with mock.patch.multiple(sql, HOIST_SIZE=0, HOIST_DEPTH=2):
            for e in ranked:
                text = segql.to_sql(e, shared.schema, as_of=AS_OF)
                assert '"segql_s0"' in text
                assert set(run_rows(con, text)) == plain[e], e
    finally:
        con.close()
