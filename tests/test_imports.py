"""Start-up stays light: heavy modules load only in the stages that need them."""

from __future__ import annotations

import ast
import subprocess
import sys

HEAVY = ("sqlglot", "duckdb", "pyarrow", "pandas", "polars", "prompt_toolkit", "psycopg")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(out.stdout))


def test_import_parse_format_stay_light() -> None:
    assert _loaded_after("import segql; segql.format(segql.parse('x > 1 and y in [1]'))") == []


def test_syntax_errors_and_limits_stay_light() -> None:
    code = (
        "import segql\n"
        "for text in ('x == 1', 'a and', 'x' * 20_000, 'not ' * 100 + 'x'):\n"
        "    try:\n"
        "        segql.parse(text)\n"
        "    except segql.SegqlError as e:\n"
        "        str(e); e.to_json()\n"
        "segql.format('count(orders where amount > 5 within 30d) > 1')"
    )
    assert _loaded_after(code) == []


def test_bare_import_does_not_even_load_the_parser() -> None:
    loaded = "sorted(m for m in ('lark', 'segql.lang.parser') if m in sys.modules)"
    probe = f"import sys, segql; print({loaded})"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert ast.literal_eval(out.stdout) == []


def test_checking_and_evaluating_stay_light() -> None:
    code = (
        "import sys; sys.path.insert(0, 'tests'); import segql; "
        "from shop_schema import shop_schema; s = shop_schema(); "
        "segql.check('purchases > 3', s); "
        "segql.matches('purchases > 3', s, contact={'id': 1})"
    )
    assert _loaded_after(code) == []


def test_cli_parser_stays_light() -> None:
    assert _loaded_after("from segql.tools.arguments import build_parser; build_parser()") == []
