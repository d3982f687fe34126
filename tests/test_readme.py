"""The README's commands work as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    blocks = _blocks()
    install_demo, install_tests = blocks[0].strip(), blocks[1].strip()
    assert install_demo.endswith("segql demo")
    test_cmd = install_tests.split("&&")[-1].strip().removeprefix(".venv/bin/")
    assert test_cmd == "python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/python -m pytest -q" in ci


def test_quickstart_install_and_demo(tmp_path: Path) -> None:
    command = _blocks()[0].strip().replace(".venv", str(tmp_path / "venv"))
    # The command leaves the environment active: a bare `segql` works next.
    command += " && segql --version && command -v segql"
    env = {**os.environ, "SEGQL_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "vip" in r.stdout and "contacts in all" in r.stdout
    assert "segql repl" in r.stdout
    assert r.stdout.rstrip().endswith(str(tmp_path / "venv" / "bin" / "segql"))


def test_tour_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SEGQL_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
    }
    demo = subprocess.run(["segql", "demo"], capture_output=True, text=True, env=env, timeout=300)
    assert demo.returncode == 0, demo.stderr
    tour = _blocks()[2]
    lines = [ln for ln in tour.splitlines() if ln.strip()]
    setup, commands = lines[0], lines[1:]
    assert setup.startswith("D=")
    for cmd in commands:
        r = subprocess.run(
            ["bash", "-c", f"{setup}; {cmd}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            input="",
        )
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
        assert r.stdout.strip() or cmd.startswith("segql repl"), cmd


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SEGQL_CACHE_DIR": str(tmp_path / "cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
    }


def test_the_demo_the_tour_and_the_demos_suggestions_share_one_as_of(tmp_path: Path) -> None:
    """The demo's table, the commands it suggests (run inside its folder) and the tour's
    commands (with -p) count the same members: one as_of, from the demo's segql.toml."""
    env = _env(tmp_path)
    demo = subprocess.run(["segql", "demo"], capture_output=True, text=True, env=env, timeout=300)
    assert demo.returncode == 0, demo.stderr
    table = {}
    for line in demo.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].endswith("%") and parts[1].replace(",", "").isdigit():
            table[parts[0]] = int(parts[1].replace(",", ""))
    assert table["vip"] > 0 and table["cart_abandoners"] > 0
    folder = Path(demo.stdout.split("data: ")[1].split()[0])
    suggested = [
        ln.strip()
        for ln in demo.stdout.splitlines()
        if ln.startswith("    segql ") and "repl" not in ln
    ]
    assert suggested
    for cmd in suggested:
        r = subprocess.run(
            ["bash", "-c", cmd], cwd=folder, capture_output=True, text=True, env=env, timeout=300
        )
        assert r.returncode == 0, (cmd, r.stderr)
    for name in ("vip", "cart_abandoners"):
        inside = subprocess.run(
            ["segql", "count", f"@{name}"], cwd=folder, capture_output=True, text=True, env=env
        )
        outside = subprocess.run(
            ["segql", "count", f"@{name}", "-p", str(folder)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
        )
        assert int(inside.stdout) == int(outside.stdout) == table[name], name
