"""Experiments (CONTRACT §6.5) on every engine and in-process: arms equal an independent
hashlib computation over the audience frozen at the start; the goal counts only events in
(start, start + window]; results equal scipy computed here from the raw rows (a 2×2
χ² for the pooled z-test, Welch's t-test on the values), a planted sample-ratio mismatch
is flagged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest
from engines import ENGINE_KINDS, Dataset, Table, engine_database
from scipy import stats

import segql
from segql.backends.python import Predicate
from segql.checker import check_schema, typed
from segql.core.schema import (
    ArmDef,
    Entity,
    ExperimentDef,
    FieldDef,
    Schema,
    SegmentDef,
    Source,
    Stream,
    TraitDef,
)
from segql.core.types import Type as T

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=14)
AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
N = 900
ARMS = {"control": 20, "a": 40, "b": 40}
RATES = {"control": 0.2, "a": 0.35, "b": 0.2}


def _bucket(salt: str, key: int) -> int:
    return int(hashlib.md5(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % 10000


def _arm(salt: str, key: int, arms: dict[str, int]) -> str:
    total, cum, b = sum(arms.values()), 0, _bucket(salt, key)
    for name, w in arms.items():
        cum += w
        if b < Fraction(10000 * cum, total):
            return name
    raise AssertionError


def _experiment(name: str, audience: str, goal: str, arms: dict[str, int], salt: str) -> Any:
    return ExperimentDef(
        name=name,
        audience=audience,
        start=START,
        salt=salt,
        arms=tuple(ArmDef(name=n, weight=Decimal(w)) for n, w in arms.items()),
        goal=goal,
        window=(14, "d"),
        window_text="14d",
    )


def _schema() -> Schema:
    f = {
        "email": FieldDef(name="email", type=T.STRING, column="email"),
        "id": FieldDef(name="id", type=T.INTEGER, column="id"),
    }
    orders = Stream(
        name="orders",
        source=Source(table="orders"),
        key="contact_id",
        time="ordered_at",
        fields={"amount": FieldDef(name="amount", type=T.DECIMAL, column="amount")},
    )
    schema = Schema(
        timezone="UTC",
        entity=Entity(source=Source(table="contacts"), key="id", fields=f),
        streams={"orders": orders},
        traits={"purchases": TraitDef(name="purchases", text="count(orders)")},
        segments={"buyers": SegmentDef(name="buyers", text="purchases >= 1")},
        experiments={
            "promo": _experiment("promo", "buyers", "has orders", ARMS, "promo"),
            "promo_spend": _experiment(
                "promo_spend", "purchases >= 1", "sum(orders.amount)", ARMS, "promo"
            ),
            # a ranked audience (a batch's threshold, a window on Spark and ClickHouse)
            "top_half": _experiment(
                "top_half", "top 50% by sum(orders.amount)", "has orders", ARMS, "top_half"
            ),
            # the audience is cut by the split's own hash: a sample-ratio mismatch
            "skewed": _experiment(
                "skewed", "bucket('skewed') < 7000", "has orders", {"c": 1, "t": 1}, "skewed"
            ),
        },
    )
    assert not [d for d in check_schema(schema) if d.is_error]
    return schema


def _data() -> Dataset:
    rng = random.Random(11)
    contacts, orders = [], []
    for cid in range(1, N + 1):
        contacts.append((cid, f"c{cid}@example.com"))
        if rng.random() < 0.75:  # bought before the start: in the audience
            at = START - dt.timedelta(seconds=rng.randrange(1, 300 * 86400))
            orders.append((cid, at, Decimal(rng.randrange(100, 20000)) / 100))
        arm = _arm("promo", cid, ARMS)
        if rng.random() < RATES[arm]:
            at = START + dt.timedelta(seconds=rng.randrange(1, 14 * 86400))
            orders.append((cid, at, Decimal(rng.randrange(100, 20000)) / 100))
    # boundaries: at the start (in the audience, not a conversion), at the end (a
    # conversion), just after the end and after as_of (neither); a null time
    contacts += [(N + 1, None), (N + 2, None), (N + 3, None), (N + 4, None)]
    orders += [
        (N + 1, START, Decimal("10")),
        (N + 2, START - dt.timedelta(days=1), Decimal("10")),
        (N + 2, END, Decimal("7.5")),
        (N + 3, START - dt.timedelta(days=1), None),
        (N + 3, END + dt.timedelta(seconds=1), Decimal("99")),
        (N + 4, START + dt.timedelta(seconds=1), Decimal("5")),  # first order after start
        (N + 4, None, Decimal("5")),
    ]
    return Dataset(
        schema=_schema(),
        tables={
            "contacts": Table([("id", T.INTEGER), ("email", T.STRING)], contacts),
            "orders": Table(
                [("contact_id", T.INTEGER), ("ordered_at", T.TIMESTAMP), ("amount", T.DECIMAL)],
                orders,
            ),
        },
    )


DATA = _data()


def _expected() -> dict[str, Any]:
    """From the raw rows: the audience at the start, arms, conversions and spend."""
    rows = [o for o in DATA.tables["orders"].rows if o[1] is not None]
    audience = {o[0] for o in rows if o[1] <= START}
    in_window = [o for o in rows if START < o[1] <= END]
    converted = {o[0] for o in in_window}
    spend: dict[int, Decimal] = {k: Decimal(0) for k in audience}
    for k, _, amount in in_window:
        if k in spend and amount is not None:
            spend[k] += amount
    arms = {k: _arm("promo", k, ARMS) for k in audience}
    keys = {r[0] for r in DATA.tables["contacts"].rows}
    skewed = {k: _arm("skewed", k, {"c": 1, "t": 1}) for k in keys if _bucket("skewed", k) < 7000}
    before: dict[int, Decimal] = {k: Decimal(0) for k in keys}
    for k, at, amount in rows:
        if at <= START and amount is not None and k in before:
            before[k] += amount
    n = len(before)  # top 50%: (rank - 1) * 100 >= 50 * (n - 1)
    top = {k for k, v in before.items() if sum(w < v for w in before.values()) * 2 >= n - 1}
    top_half = {k: _arm("top_half", k, ARMS) for k in top}
    return {
        "arms": arms,
        "converted": converted,
        "spend": spend,
        "skewed": skewed,
        "top_half": top_half,
    }


EXPECTED = _expected()


def test_the_boundaries_are_in_the_data() -> None:
    arms, converted = EXPECTED["arms"], EXPECTED["converted"]
    assert N + 1 in arms and N + 1 not in converted  # at the start: audience, not goal
    assert N + 2 in converted and N + 3 not in converted  # the end is in, after it is not
    assert N + 4 not in arms  # bought only after the start
    assert {a for a in arms.values()} == set(ARMS)


def test_in_process_arms_and_goal_equal_the_independent_computation() -> None:
    schema = DATA.schema
    arm = Predicate(typed("promo", schema, value=True), schema)
    skew = Predicate(typed("skewed", schema, value=True), schema)
    for c in DATA.contacts():
        events = DATA.events_of(c["id"])
        assert arm.value(c, events, AS_OF) == EXPECTED["arms"].get(c["id"]), c["id"]
        assert skew.value(c, events, AS_OF) == EXPECTED["skewed"].get(c["id"]), c["id"]


def _conversion_reference(arm: str) -> dict[str, float]:
    arms, conv = EXPECTED["arms"], EXPECTED["converted"]
    n0 = sum(1 for a in arms.values() if a == "control")
    x0 = sum(1 for k, a in arms.items() if a == "control" and k in conv)
    n1 = sum(1 for a in arms.values() if a == arm)
    x1 = sum(1 for k, a in arms.items() if a == arm and k in conv)
    p0, p1 = x0 / n0, x1 / n1
    table = [[x1, n1 - x1], [x0, n0 - x0]]
    chi2 = stats.chi2_contingency(table, correction=False)
    se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    z = NormalDist().inv_cdf(0.975)
    return {
        "size": n1,
        "conversions": x1,
        "difference": p1 - p0,
        "ci_low": p1 - p0 - z * se,
        "ci_high": p1 - p0 + z * se,
        "p_value": float(chi2.pvalue),
        "lift": (p1 - p0) / p0,
    }


def _mean_reference(arm: str) -> dict[str, float]:
    arms, spend = EXPECTED["arms"], EXPECTED["spend"]
    c = [float(spend[k]) for k, a in arms.items() if a == "control"]
    t = [float(spend[k]) for k, a in arms.items() if a == arm]
    res = stats.ttest_ind(t, c, equal_var=False)
    ci = res.confidence_interval(0.95)
    return {
        "size": len(t),
        "mean": sum(t) / len(t),
        "difference": sum(t) / len(t) - sum(c) / len(c),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "p_value": float(res.pvalue),
    }


def _close(a: Any, b: Any) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module", params=ENGINE_KINDS)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with engine_database(request.param, DATA, tmp_path_factory.mktemp("xp")) as d:
        yield d


def test_assignments_equal_hashlib_on_every_engine(db: Any) -> None:
    got = db.assignments(DATA.schema, "promo").to_pylist()
    assert {r["id"]: r["arm"] for r in got} == EXPECTED["arms"]
    # the same value inside an expression, whatever the as_of
    for arm in ARMS:
        want = {k for k, a in EXPECTED["arms"].items() if a == arm}
        assert set(db.member_ids(f"promo = '{arm}'", DATA.schema, as_of=AS_OF)) == want
        assert set(db.member_ids(f"promo = '{arm}'", DATA.schema, as_of=END)) == want


def test_a_ranked_audience_is_frozen_at_the_start_on_every_engine(db: Any) -> None:
    got = db.assignments(DATA.schema, "top_half").to_pylist()
    assert {r["id"]: r["arm"] for r in got} == EXPECTED["top_half"]
    assert 0 < len(EXPECTED["top_half"]) < len(DATA.tables["contacts"].rows)


def test_conversion_results_equal_scipy_on_every_engine(db: Any) -> None:
    got = db.results(DATA.schema, "promo", as_of=AS_OF)
    assert got["status"] == "finished" and got["kind"] == "conversion"
    assert got["as_of"] == "2026-03-15T00:00:00Z"
    assert got["audience"] == len(EXPECTED["arms"])
    control = got["arms"][0]
    assert control["name"] == "control" and control["p_value"] is None
    for row in got["arms"][1:]:
        want = _conversion_reference(row["name"])
        for k, v in want.items():
            assert _close(row[k], v), (row["name"], k, row[k], v)
    assert not got["srm"]["flagged"]
    # a was planted with a higher rate; b with the control's
    a, b = got["arms"][1], got["arms"][2]
    assert a["p_value"] < 0.05 and a["ci_low"] > 0 and b["p_value"] > 0.05


def test_mean_results_equal_welch_on_every_engine(db: Any) -> None:
    got = db.results(DATA.schema, "promo_spend", as_of=AS_OF)
    assert got["kind"] == "mean"
    for row in got["arms"][1:]:
        want = _mean_reference(row["name"])
        for k, v in want.items():
            assert _close(row[k], v), (row["name"], k, row[k], v)


def test_a_planted_sample_ratio_mismatch_is_flagged_on_every_engine(db: Any) -> None:
    got = db.results(DATA.schema, "skewed", as_of=AS_OF)
    sizes = [sum(1 for a in EXPECTED["skewed"].values() if a == n) for n in ("c", "t")]
    assert [a["size"] for a in got["arms"]] == sizes
    want = stats.chisquare(sizes, f_exp=[sum(sizes) / 2] * 2)
    assert _close(got["srm"]["p_value"], float(want.pvalue))
    assert got["srm"]["flagged"]
    assert "sample-ratio-mismatch" in [w["code"] for w in got["warnings"]]


def test_results_before_the_end_are_provisional() -> None:
    from engines import load_duckdb

    from segql.engine import Database

    db = Database(connection=load_duckdb(DATA))
    mid = START + dt.timedelta(days=7)
    got = db.results(DATA.schema, "promo", as_of=mid)
    assert got["status"] == "running" and got["as_of"] == "2026-03-08T00:00:00Z"
    assert "experiment-running" in [w["code"] for w in got["warnings"]]
    rows = [o for o in DATA.tables["orders"].rows if o[1] is not None]
    conv = {o[0] for o in rows if START < o[1] <= mid}
    assert sum(a["conversions"] for a in got["arms"]) == len(conv & set(EXPECTED["arms"]))
    with pytest.raises(segql.SegqlError) as info:
        db.results(DATA.schema, "promo", as_of=START)
    assert info.value.diagnostics[0].code == "bad-input"
    with pytest.raises(segql.SegqlError) as info:
        db.results(DATA.schema, "prmo")
    assert "did you mean `promo`" in str(info.value)


def test_power_equals_the_normal_approximation() -> None:
    from segql.engines.experiments import sample_size

    for base, lift in ((0.05, 0.1), (0.2, -0.25), (0.5, 0.02)):
        p1 = base * (1 + lift)
        z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
        want = math.ceil(z * z * (base * (1 - base) + p1 * (1 - p1)) / (p1 - base) ** 2)
        assert sample_size(base, lift) == want
    assert sample_size(0.05, 0.1) == 31231
    for base, lift in ((0, 0.1), (1.5, 0.1), (0.05, 0), (0.9, 0.5)):
        with pytest.raises(segql.SegqlError):
            sample_size(base, lift)


CATALOG = """
segments:
  buyers: purchases >= 1
experiments:
  promo:
    audience: buyers
    start: 2026-03-01T00:00:00Z
    arms: {control: 20, a: 40, b: 40}
    goal: has orders
    window: 14d
"""


def _files(tmp_path: Path, catalog: str) -> list[str]:
    schema = {
        "entity": {"table": "contacts", "key": "id", "fields": {"email": "string"}},
        "events": {
            "orders": {
                "table": "orders",
                "key": "contact_id",
                "time": "ordered_at",
                "fields": {"amount": "decimal"},
            }
        },
        "traits": {"purchases": "count(orders)"},
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "cat.yaml").write_text(catalog)
    return ["--schema", str(tmp_path / "schema.json"), "--catalog", str(tmp_path / "cat.yaml")]


def test_the_cli_assigns_and_reads_results(tmp_path: Path) -> None:
    import duckdb
    from engines import load_duckdb

    from segql.tools.cli import main

    con = duckdb.connect(str(tmp_path / "shop.duckdb"))
    load_duckdb(DATA, con)
    con.close()
    opts = [*_files(tmp_path, CATALOG), "--db", str(tmp_path / "shop.duckdb")]
    assert main(["assign", "promo", *opts, "-o", str(tmp_path / "arms.csv")]) == 0
    lines = (tmp_path / "arms.csv").read_text().splitlines()
    assert lines[0] == "id,arm"
    got = {int(k): a for k, a in (line.split(",") for line in lines[1:])}
    assert got == EXPECTED["arms"]
    out = tmp_path / "r.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["results", "promo", *opts, "--format", "json", "--as-of", "2026-06-01"]) == 0
    result = json.loads(buf.getvalue())
    assert [a["size"] for a in result["arms"]] == [
        sum(1 for a in EXPECTED["arms"].values() if a == n) for n in ARMS
    ]
    out.write_text(buf.getvalue())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["results", "promo", *opts, "--as-of", "2026-06-01"]) == 0
    text = buf.getvalue()
    assert "finished" in text and "sample ratio: ok" in text and "control" in text


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        (CATALOG.replace("    window: 14d\n", ""), "has no `window:`"),
        (CATALOG.replace("14d", "14 days"), "positive duration"),
        (CATALOG.replace("2026-03-01T00:00:00Z", "soon"), "must be a time"),
        (CATALOG.replace("{control: 20, a: 40, b: 40}", "{control: 1}"), "at least two arms"),
        (CATALOG.replace("a: 40", "a: -4"), "positive number"),
        (CATALOG.replace("goal: has orders", "goal: email"), "goal of `promo` must be"),
        (CATALOG.replace("audience: buyers", "audience: purchases"), "must be a condition"),
        (CATALOG.replace("audience: buyers", "audience: byers"), "unknown name `byers`"),
        (CATALOG.replace("  promo:", "  purchases:"), "same name as trait"),
        (CATALOG.replace("    window", "    colour: red\n    window"), "unknown key `colour`"),
    ],
)
def test_bad_experiments_are_errors_where_written(
    tmp_path: Path, catalog: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from segql.tools.cli import main

    assert main(["check", *_files(tmp_path, catalog)]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err
    if message not in ("same name as trait",):
        assert "cat.yaml:" in err


def test_an_experiment_is_a_string_value_with_its_arms_as_known_values() -> None:
    schema = DATA.schema
    typed("promo = 'a'", schema)
    with pytest.raises(segql.SegqlError):
        typed("promo > 3", schema)
    got = segql.check("promo = 'contrl'", schema)
    assert any("not a class" in d.message or "contrl" in d.message for d in got)
    replaced = dataclasses.replace(schema)  # checked again when first used
    typed("promo = 'b'", replaced)


def test_the_repl_completes_experiments_and_their_arms() -> None:
    from segql.tools.repl.completion import complete

    def texts(text: str) -> list[str]:
        return [c.text for c in complete(text, DATA.schema)[1]]

    assert "promo" in texts("pro")
    got = texts("promo = ")
    assert {"'control'", "'a'", "'b'"} <= set(got), got
    warned = segql.check("promo = 'contrl'", DATA.schema)
    assert [d.code for d in warned] == ["unknown-value"]
    assert "not an arm of `promo`" in warned[0].message
    assert "did you mean 'control'?" in warned[0].hints


def test_an_experiment_where_a_segment_is_expected_names_its_arms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from segql.tools.cli import main

    opts = _files(tmp_path, CATALOG)
    assert main(["sql", "@promo", *opts]) == 1
    err = capsys.readouterr().err
    assert "`promo` is an experiment, not a segment" in err
    assert "\"promo = 'control'\"" in err


def test_in_segment_of_an_experiment_names_its_arms() -> None:
    # the checker says what the CLI's `@promo` says, with the first arm as the example
    (d,) = segql.check("in segment promo", DATA.schema)
    assert (d.code, d.message) == ("unknown-segment", "`promo` is an experiment, not a segment")
    assert d.hints == ("compare it with one of its arms: `promo = 'control'`",)
