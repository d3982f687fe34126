"""Packaging: the wheel carries its grammar and demo files, and an installed copy works."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "segql/segql.lark" in names
    assert "segql/demo/files/schema.yaml" in names
    assert "segql/demo/files/segments.yaml" in names
    assert "segql/py.typed" in names
    text = zipfile.ZipFile(wheel).read("segql/segql.lark").decode()
    assert text == (ROOT / "grammar" / "segql.lark").read_text(encoding="utf-8")


def test_installed_wheel_finds_its_grammar(wheel: Path, tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=False, system_site_packages=False)
    py = env / "bin" / "python"
    # Dependencies come from this environment's site-packages (lark is all parsing needs);
    # segql itself only from the wheel, unpacked on its own path.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    import lark

    lark_dir = str(Path(lark.__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path[:0] = [{str(target)!r}, {lark_dir!r}]; "
        "import segql, segql.syntax as s; "
        "print(segql.__file__); print(segql.format(segql.parse('A AND b>1'))); "
        "print(s.grammar_text()[:20])"
    )
    out = subprocess.run(
        [str(py), "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith(str(target))
    assert lines[1] == "A and b > 1"
    assert lines[2].startswith("// segql")
