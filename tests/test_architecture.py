"""The package layout is a contract (docs/architecture.md): each stage imports only the
stages below it, Lark stays inside `segql.lang`, and no module grows past ~600 lines.

Every import counts, including those inside functions (lazy imports still couple stages)
and those under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "segql"

# The stages, lowest first. A module may import its own stage and any stage below it.
LAYERS: dict[str, int] = {
    "core": 0,
    "lang": 1,
    "ir": 2,
    "checker": 3,
    "optimize": 4,
    "backends": 5,
    "pipeline": 6,
    "engine": 7,
    "engines": 7,
    "config": 8,
    "": 9,  # segql/__init__.py: the public API, which the tools use too
    "tools": 10,
}
MAX_LINES = 600


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _type_only(tree: ast.Module) -> set[int]:
    """Lines of the imports under ``if TYPE_CHECKING:`` (never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines |= {n.lineno for n in ast.walk(inner) if hasattr(n, "lineno")}
    return lines


def _imports(path: Path, *, type_only: bool = True) -> list[tuple[str, int]]:
    """Every module ``path`` imports, with its line (relative imports resolved); without
    those under ``if TYPE_CHECKING:`` when ``type_only`` is False."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if type_only else _type_only(tree)
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.append((base, node.lineno))
            # `from segql.ir import nodes` imports the module segql.ir.nodes
            out += [
                (f"{base}.{alias.name}", node.lineno)
                for alias in node.names
                if f"{base}.{alias.name}" in MODULES
            ]
    return out


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_stage() -> None:
    assert {_stage(m) for m in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_stages(module: str) -> None:
    mine = LAYERS[_stage(module)]
    wrong = [
        f"line {line}: {name}"
        for name, line in _imports(MODULES[module])
        if name.startswith("segql") and name in MODULES and LAYERS[_stage(name)] > mine
    ]
    assert not wrong, f"{module} imports a later stage: {wrong}"


def test_back_ends_never_import_the_checker_or_the_pipeline() -> None:
    for module, path in MODULES.items():
        if module.startswith("segql.backends"):
            for name, line in _imports(path):
                assert not name.startswith(("segql.checker", "segql.pipeline")), (
                    f"{module}:{line} imports {name}"
                )


def test_only_lang_imports_lark_and_never_its_internals() -> None:
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        assert "_parse_table" not in text and "lalr_analysis" not in text, module
        for name, line in _imports(path):
            if name == "lark" or name.startswith("lark."):
                assert module.startswith("segql.lang"), f"{module}:{line} imports {name}"


def test_no_import_cycles_between_modules() -> None:
    """Cycles of imports that run (a type-only import, for an annotation, runs never)."""
    graph = {
        m: {n for n, _ in _imports(p, type_only=False) if n in MODULES and n != m}
        for m, p in MODULES.items()
    }
    # A package importing its own modules (re-exports) is not a cycle of meaning.
    for m in graph:
        graph[m] = {n for n in graph[m] if not (m in MODULES and n.startswith(m + "."))}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n) :], n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"
