"""Data-driven schema tests: every file in ``fixtures/schema/broken`` is loaded and its
diagnostics compared with the companion ``.expected`` file; the files in
``fixtures/schema/valid`` must load into equal schemas, whatever their format.

``.expected`` format, one diagnostic per line, in the order reported::

    LINE:COLUMN CODE MESSAGE
      hint: HINT            (every hint, in order)
    LINE:COLUMN CODE * TEXT (message and hints not compared: the text is the checker's)

``{dir}`` stands for the fixture directory. Files named ``NAME.catalog.EXT`` are loaded as
catalogs of ``NAME.*``; files named ``catalog_only_*`` are loaded as catalogs on their own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from segql.config.loader import load_catalog, load_schema
from segql.core.diagnostics import Diagnostic, SchemaError
from segql.core.schema import Located, Schema
from segql.ir.definitions import definitions

FIXTURES = Path(__file__).parent / "fixtures" / "schema"
BROKEN = FIXTURES / "broken"
VALID = FIXTURES / "valid"
SUFFIXES = (".yaml", ".yml", ".toml", ".json")


def broken_cases() -> list[Path]:
    return sorted(p for p in BROKEN.iterdir() if p.suffix in SUFFIXES and ".catalog." not in p.name)


def diagnostics_for(path: Path) -> list[Diagnostic]:
    if path.name.startswith("catalog_only_"):
        _, diags = load_catalog(path)
        return diags
    catalogs = sorted(BROKEN.glob(path.stem + ".catalog.*"))
    with pytest.raises(SchemaError) as info:
        load_schema(path, catalogs=catalogs)
    return list(info.value.diagnostics)


def describe(diags: list[Diagnostic]) -> list[str]:
    out = []
    for d in diags:
        out.append(f"{d.line}:{d.column} {d.code} {d.message}")
        out.extend(f"  hint: {h}" for h in d.hints)
    return [line.replace(str(BROKEN), "{dir}") for line in out]


def test_enough_fixtures() -> None:
    cases = broken_cases()
    assert len(cases) >= 30
    assert {p.suffix for p in cases} == {".yaml", ".toml", ".json"}


@pytest.mark.parametrize("path", broken_cases(), ids=lambda p: p.name)
def test_broken_schema(path: Path) -> None:
    expected_file = path.with_suffix(path.suffix + ".expected")
    expected = [ln for ln in expected_file.read_text().splitlines() if ln.strip()]
    diags = diagnostics_for(path)
    assert diags, "expected diagnostics"
    actual = describe(diags)
    heads = [ln.split(" ", 3) for ln in expected if not ln.startswith("  ")]
    assert len(heads) == len(diags), "\n".join(actual)
    if any(len(h) > 2 and h[2] == "*" for h in heads):
        # `LINE:COL CODE * text`: the text is the checker's, only the place and code count
        got = [f"{d.line}:{d.column} {d.code}" for d in diags]
        assert got == [f"{h[0]} {h[1]}" for h in heads], "\n".join(actual)
    else:
        assert actual == expected
    for d in diags:
        assert d.is_error
        assert d.file is not None and Path(d.file).parent == BROKEN
        assert d.source == Path(d.file).read_text()


def _plain(obj: Any) -> Any:
    """Schema objects with every source position removed."""
    if isinstance(obj, Located):
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def structure(schema: Schema) -> Any:
    return _plain(
        {
            "timezone": schema.timezone,
            "entity": schema.entity,
            "streams": schema.streams,
            "traits": schema.traits,
            "segments": schema.segments,
        }
    )


@pytest.mark.parametrize("name", ["contract.yaml", "contract.toml", "contract.json"])
def test_contract_example_in_every_format(name: str) -> None:
    reference = load_schema(VALID / "contract.yaml")
    schema = load_schema(VALID / name)
    assert structure(schema) == structure(reference)
    assert schema.warnings == []
    assert set(definitions(schema).traits) == {
        "purchases",
        "total_spent",
        "last_order",
        "last_open",
    }
    assert set(definitions(schema).filters) == {"email_opens"}
    assert schema.path == (VALID / name).resolve()


def test_contract_example_as_dict() -> None:
    import yaml

    data = yaml.safe_load((VALID / "contract.yaml").read_text())
    assert structure(load_schema(data)) == structure(load_schema(VALID / "contract.yaml"))


def test_shop_example_loads() -> None:
    shop = Path(__file__).parent.parent / "examples" / "shop" / "schema.yaml"
    if not shop.exists():
        pytest.skip("examples/shop/schema.yaml is not there yet")
    schema = load_schema(shop)
    assert schema.entity.fields
