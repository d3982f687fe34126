"""`profile` (CONTRACT §6.3) on random data: the engine's statistics equal pandas over the
in-process evaluator's values (an independent path: no SQL). Every engine is compared with
pandas on the corpus data in tests/test_engines.py."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from engines import Dataset, load_duckdb
from gen import AS_OF, datasets
from hypothesis import HealthCheck, given, settings
from profile_reference import assert_profile

import segql
from segql.backends.python import Predicate
from segql.checker import typed
from segql.engine import Database

METRICS = {
    "total_spent": "total_spent",
    "score": "score",
    "age": "age",
    "idle": "days_since(last_order)",
    "n": "count(orders where gift)",
}


def _values(data: Dataset, exprs: dict[str, str]) -> pd.DataFrame:
    rows = []
    preds = {n: Predicate(typed(e, data.schema, value=True), data.schema) for n, e in exprs.items()}
    for c in data.contacts():
        events = data.events_of(c["id"])
        rows.append({n: p.value(c, events, AS_OF) for n, p in preds.items()})
    return pd.DataFrame(rows, columns=list(exprs))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets())
def test_profile_equals_pandas_on_random_data(data: Dataset) -> None:
    specs = [f"{e} as {n}" for n, e in METRICS.items()]
    con = load_duckdb(data)
    db = Database(connection=con)
    got = db.profile(data.schema, ["@value_class", "@vip", "age > 20"], specs, as_of=AS_OF)
    frame = _values(
        data,
        {**METRICS, "value_class": "value_class", "vip": "in segment vip", "old": "age > 20"},
    )
    classes = data.schema.segmentations["value_class"].values
    groups: dict[str, Any] = {f"value_class = {c}": frame.value_class == c for c in classes}
    groups["vip"] = frame.vip == True  # noqa: E712
    groups["age > 20"] = frame.old == True  # noqa: E712
    assert_profile(got, frame, groups, list(METRICS), {})
    from profile_reference import close, eta2

    for m in METRICS:
        assert close(got["separation"]["value_class"][m], eta2(frame, "value_class", m)), m


def test_bad_metrics_and_targets_are_clear_errors() -> None:
    from shop_schema import shop_schema

    schema = shop_schema()
    db = Database()
    for targets, metrics, code in (
        (["@vip"], ["email"], "type-mismatch"),
        (["@vpi"], ["age"], "unknown-segment"),
        ([], ["age"], "bad-fields"),
        (["@vip"], [], "bad-fields"),
        (["@vip"], ["age", "age"], "bad-fields"),
        (["age"], ["age"], "not-boolean"),
    ):
        with pytest.raises(segql.SegqlError) as info:
            db.profile(schema, targets, metrics)
        assert info.value.diagnostics[0].code == code, (targets, metrics)
