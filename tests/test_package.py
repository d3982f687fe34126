"""Packaging: the wheel carries its grammar (and demo files), and a copy installed from the
wheel into a fresh virtual environment parses and formats, reading the grammar it ships."""

from __future__ import annotations

import email.parser
import importlib.metadata
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIP_INTO = [sys.executable, "-m", "pip", "--python"]  # the outer pip, into another env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("segql-*.whl")
    return path


def test_wheel_contains_the_grammar_and_demo_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        grammar = zf.read("segql/lang/segql.lark").decode("utf-8")
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    assert "segql/lang/segql.lark" in names
    assert grammar == (ROOT / "segql" / "lang" / "segql.lark").read_text(encoding="utf-8")
    assert {
        "segql/__init__.py",
        "segql/lang/parser.py",
        "segql/lang/formatter.py",
        "segql/py.typed",
    } <= names
    assert "segql/tools/demo/files/schema.yaml" in names
    assert "segql/tools/demo/files/segments.yaml" in names
    assert not any(n.startswith(("tests/", "grammar/")) for n in names)
    assert any(r.startswith("lark") for r in meta.get_all("Requires-Dist") or [])


def _lark_wheel(into: Path) -> list[str]:
    """pip arguments that install lark into a fresh environment without touching the
    project: the registry's wheel of the version in use here, else a copy of it."""
    version = importlib.metadata.version("lark")
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(into)]
    try:
        got = subprocess.run([*pip, f"lark=={version}"], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return []
    found = list(into.glob("lark-*.whl"))
    if got.returncode == 0 and found:
        return [str(found[0])]
    return []  # offline: the caller copies the installed package instead


def test_installed_wheel_finds_its_grammar(wheel: Path, tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=False, system_site_packages=False, symlinks=True)
    py = env / "bin" / "python"
    lark_args = _lark_wheel(tmp_path / "dl")
    # The outer pip installs into the new environment (`--python`), so it needs no pip.
    subprocess.run(
        [*PIP_INTO, str(py), "install", "-q", "--no-deps", "--no-index", str(wheel), *lark_args],
        check=True,
        capture_output=True,
        timeout=300,
    )
    if not lark_args:
        import lark

        site = Path(
            subprocess.run(
                [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        shutil.copytree(Path(lark.__file__).parent, site / "lark")

    code = (
        "import sys, segql, segql.lang.parser as s\n"
        "print(segql.__file__)\n"
        "print(segql.format(segql.parse('A AND b>1 OR has orders where amount > 5 within 30d')))\n"
        "print(s.grammar_text().splitlines()[0])\n"
        "from importlib import resources\n"
        "print(resources.files('segql.lang').joinpath('segql.lark').is_file())\n"
        "try:\n"
        "    segql.parse('x == 1')\n"
        "except segql.SegqlError as e:\n"
        "    print(e.code)\n"
    )
    # -I: no user site, no PYTHONPATH, no current directory on sys.path; and a working
    # directory far from the checkout, so only the installed copy can be imported.
    out = subprocess.run(
        [str(py), "-I", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=tmp_path,
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith(str(env)), lines[0]
    assert lines[1] == "A and b > 1 or has orders where amount > 5 within 30d"
    assert lines[2].startswith("// segql")
    assert lines[3] == "True"
    assert lines[4] == "syntax"
    assert not (Path(lines[0]).parent.parent / "grammar").exists()
