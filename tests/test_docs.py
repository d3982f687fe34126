"""Every code sample in README.md and docs/ runs, and prints what the page says it prints.

Each page's fenced blocks run in order, by their language:

- ``console``: each ``$ command`` runs in bash inside the demo shop's folder (a segql
  project, so no options are needed); the lines after it are its expected output (stdout and
  stderr). A line ``...`` stands for any lines, and ``...`` inside a line for any text.
- ``python``: run in one namespace per page, from the repository root; when a ``text`` block
  follows it directly, that block is its expected output.
- ``pycon``: a doctest (``>>>`` prompts) in the same namespace.
- ``yaml`` / ``toml`` / ``json``: must parse; a schema (``entity:``) must load, a catalog
  (``segments:``) must load against the demo schema, a project file must load.
- ``segql``: each line is an expression that must check against the demo schema and catalog.
- ``sh``: README's set-up and tour commands, run by tests/test_readme.py.
- ``text``: not code (synopses, diagrams) unless it follows a python block, or is a REPL
  transcript (lines ``segql> input``, each followed by its output): each input is then run
  through ``segql repl`` in the demo's folder and its output compared.

A block without a language is an error: every sample says what it is.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import segql

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [ROOT / "README.md", ROOT / "examples" / "shop" / "README.md", *(ROOT / "docs").glob("*.md")]
)
KNOWN = {"console", "python", "pycon", "yaml", "toml", "json", "segql", "sh", "text", "sql"}


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    line: int  # of the opening fence


def blocks(page: Path) -> list[Block]:
    out = []
    lines = page.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if m is None:
            i += 1
            continue
        indent, lang = len(m.group(1)), m.group(2)
        start = i
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        out.append(Block(lang=lang, text="\n".join(body) + "\n", line=start + 1))
        i += 1
    return out


def _pattern(expected: str) -> re.Pattern[str]:
    parts = []
    for line in expected.rstrip("\n").split("\n"):
        line = line.rstrip()
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(map(re.escape, line.split("..."))) + r"[ \t]*\n")
    return re.compile("".join(parts), re.S)


def same(expected: str, got: str) -> bool:
    text = "\n".join(x.rstrip() for x in got.rstrip("\n").split("\n")) + "\n"
    return _pattern(expected).fullmatch(text) is not None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo shop (a project folder) and the environment the samples run in."""
    cache = tmp_path_factory.mktemp("docs-cache")
    home = tmp_path_factory.mktemp("home")
    env = {
        **os.environ,
        "SEGQL_CACHE_DIR": str(cache),
        "HOME": str(home),
        "NO_COLOR": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "100",
    }
    env.pop("PAGER", None)
    old = os.environ.get("SEGQL_CACHE_DIR")
    os.environ["SEGQL_CACHE_DIR"] = str(cache)
    try:
        from segql.tools.demo.run import prepare

        folder = prepare(cache)
    finally:
        if old is None:
            os.environ.pop("SEGQL_CACHE_DIR", None)
        else:
            os.environ["SEGQL_CACHE_DIR"] = old
    return {"folder": str(folder), **{f"env:{k}": v for k, v in env.items()}}


def _env(world: dict[str, str]) -> dict[str, str]:
    return {k[4:]: v for k, v in world.items() if k.startswith("env:")}


def run_console(block: Block, world: dict[str, str], where: str) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands and commands[-1][0].endswith("\\") and not commands[-1][1]:
            commands[-1] = (commands[-1][0][:-1] + "\n" + line, [])
        else:
            assert commands, f"{where}: a console block starts with `$ command`"
            commands[-1][1].append(line)
    for cmd, expected in commands:
        r = subprocess.run(
            ["bash", "-c", cmd],
            cwd=world["folder"],
            env=_env(world),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # in the order a terminal shows them
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        got = r.stdout
        assert "Traceback" not in got, f"{where}: `{cmd}`\n{got}"
        want = "\n".join(expected).strip("\n")
        assert same(want + "\n", got if got else "\n") if want else True, (
            f"{where}: `{cmd}` printed\n{got}\nbut the page says\n{want}"
        )


def run_transcript(block: Block, world: dict[str, str], where: str) -> None:
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.rstrip("\n").split("\n"):
        if line.startswith("segql> "):
            steps.append((line[len("segql> ") :], []))
        else:
            steps[-1][1].append(line)
    for source, expected in steps:
        r = subprocess.run(
            [str(Path(sys.executable).with_name("segql")), "repl"],
            input=source + "\n",
            cwd=world["folder"],
            env=_env(world),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        got = r.stdout.replace("<stdin>:", "<expr>:")  # a script's line is the session's input
        want = "\n".join(expected)
        assert same(want + "\n", got), f"{where}: `{source}` printed\n{got}\nnot\n{want}"


def run_python(block: Block, expected: str | None, ns: dict[str, object], where: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.text, where, "exec"), ns)
    if expected is not None:
        assert same(expected, out.getvalue()), (
            f"{where}: printed\n{out.getvalue()}\nbut the page says\n{expected}"
        )


def run_pycon(block: Block, ns: dict[str, object], where: str) -> None:
    test = doctest.DocTestParser().get_doctest(block.text, ns, where, where, block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    runner.run(test, out=report.write, clear_globs=False)
    ns.update(test.globs)  # DocTest works on a copy; later blocks see what this one made
    assert runner.failures == 0, report.getvalue()


def check_document(block: Block, world: dict[str, str], where: str, tmp: Path) -> None:
    folder = Path(world["folder"])
    if block.lang == "yaml":
        data = yaml.safe_load(block.text)
    elif block.lang == "toml":
        data = tomllib.loads(block.text)
    else:
        data = json.loads(block.text)
    if not isinstance(data, dict):
        return
    suffix = {"yaml": ".yaml", "toml": ".toml", "json": ".json"}[block.lang]
    if "entity" in data:
        path = tmp / f"schema{suffix}"
        path.write_text(block.text, encoding="utf-8")
        segql.load_schema(path)
    elif set(data) == {"segments"}:
        path = tmp / f"catalog{suffix}"
        path.write_text(block.text, encoding="utf-8")
        segql.load_schema(folder / "schema.yaml", catalogs=[path])
    elif "schema" in data and block.lang == "toml":
        from segql.config.project import load_project

        (tmp / "segql.toml").write_text(block.text, encoding="utf-8")
        load_project(tmp / "segql.toml")


def check_expressions(block: Block, world: dict[str, str], where: str) -> None:
    folder = Path(world["folder"])
    schema = segql.load_schema(folder / "schema.yaml", catalogs=[folder / "segments.yaml"])
    for n, line in enumerate(block.text.split("\n")):
        if not line.split("#")[0].strip():
            continue
        errors = [d for d in segql.check(line, schema) if d.is_error]
        assert not errors, f"{where}+{n + 1}: {line}\n" + "\n".join(map(str, errors))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_samples(
    page: Path, world: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SEGQL_CACHE_DIR", _env(world)["SEGQL_CACHE_DIR"])
    monkeypatch.setenv("NO_COLOR", "1")
    ns: dict[str, object] = {"__name__": "__docs__"}
    found = blocks(page)
    for i, block in enumerate(found):
        where = f"{page.relative_to(ROOT)}:{block.line}"
        assert block.lang in KNOWN, f"{where}: give the block a language ({sorted(KNOWN)})"
        match block.lang:
            case "console":
                run_console(block, world, where)
            case "python":
                nxt = found[i + 1] if i + 1 < len(found) else None
                expected = nxt.text if nxt is not None and nxt.lang == "text" else None
                run_python(block, expected, ns, where)
            case "pycon":
                run_pycon(block, ns, where)
            case "yaml" | "toml" | "json":
                check_document(block, world, where, tmp_path)
            case "segql":
                check_expressions(block, world, where)
            case "text" if block.text.startswith("segql> "):
                run_transcript(block, world, where)
            case "sh" | "text" | "sql":
                pass


def test_the_matcher_is_strict() -> None:
    assert same("a\n...\nd\n", "a\nb\nc\nd\n")
    assert same("x = ...;\n", "x = 42;\n")
    assert not same("a\nd\n", "a\nb\nd\n")
    assert not same("412 members\n", "0 members\n")
