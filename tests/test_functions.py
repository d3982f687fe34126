"""The function table (segql/lang/functions.py) is the one declaration of every function
and aggregate: the typed tree names each, both back ends implement each, the docs list
each, and every example in it is valid segql."""

from __future__ import annotations

from pathlib import Path

import pytest

import segql
from segql.backends.python import functions as python_backend
from segql.backends.sql import functions as sql_backend
from segql.ir import nodes as ir
from segql.lang.functions import FUNCTIONS, FunctionKind, markdown

ROOT = Path(__file__).resolve().parent.parent
SCALARS = sorted(n for n, f in FUNCTIONS.items() if f.kind is FunctionKind.SCALAR)
AGGREGATES = sorted(n for n, f in FUNCTIONS.items() if f.kind is FunctionKind.AGGREGATE)


@pytest.mark.parametrize("name", SCALARS)
def test_every_scalar_function_has_an_implementation_in_each_back_end(name: str) -> None:
    func = ir.FuncName(name)
    assert func in python_backend.FUNCTIONS, f"in-process back end lacks `{name}`"
    assert func in sql_backend.FUNCTIONS, f"SQL back end lacks `{name}`"


@pytest.mark.parametrize("name", AGGREGATES)
def test_every_aggregate_has_an_implementation_in_each_back_end(name: str) -> None:
    agg = ir.AggFunc(name)
    assert agg in python_backend.AGGREGATES, f"in-process back end lacks `{name}`"
    assert agg in sql_backend.AGGREGATES, f"SQL back end lacks `{name}`"


def test_the_back_ends_implement_nothing_undeclared() -> None:
    assert {f.value for f in ir.FuncName} == set(SCALARS)
    assert {f.value for f in ir.AggFunc} == set(AGGREGATES)
    assert {f.value for f in python_backend.FUNCTIONS} == set(SCALARS)
    assert {f.value for f in sql_backend.FUNCTIONS} == set(SCALARS)
    assert {f.value for f in python_backend.AGGREGATES} == set(AGGREGATES)
    assert {f.value for f in sql_backend.AGGREGATES} == set(AGGREGATES)


def test_population_functions_are_refused_in_process() -> None:
    population = [n for n, f in FUNCTIONS.items() if f.kind is FunctionKind.POPULATION]
    assert population == ["percentile", "ntile"]
    schema = _schema()
    for expr in ("percentile(age) > 50", "ntile(age, 4) = 1"):
        with pytest.raises(segql.SegqlError) as info:
            segql.matches(expr, schema, contact={"id": 1, "age": 3})
        assert info.value.code == "needs-population"
        assert expr.split("(")[0] in info.value.diagnostic.message


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_example_parses(name: str) -> None:
    for example in FUNCTIONS[name].examples:
        segql.parse(example)


def test_the_docs_function_table_is_generated_from_the_declarations() -> None:
    page = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert markdown() in page
    assert markdown(FunctionKind.AGGREGATE) in page


def test_arity_and_argument_kinds_come_from_the_table() -> None:
    schema = _schema()
    cases = {
        "sign(email) = 1": "type-mismatch",
        "sign() = 1": "wrong-arguments",
        "sign(age, 2) = 1": "wrong-arguments",
        "round(age, age) > 1": "wrong-arguments",
        "round(age, 19) > 1": "out-of-range",
        "length(age) > 1": "type-mismatch",
        "year(age) = 1": "type-mismatch",
    }
    for text, code in cases.items():
        (d,) = [d for d in segql.check(text, schema) if d.is_error]
        assert d.code == code, text
    assert segql.check("sign(age - 40) = -1 and sign(credit) = 0", schema) == []


def _schema() -> object:
    from shop_schema import shop_schema

    return shop_schema()
