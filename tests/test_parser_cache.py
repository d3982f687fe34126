"""The parser cache: Lark's grammar analysis stored in segql's cache directory.

Each run is a fresh interpreter (the parser is built once per process). A run that builds
the parser and a run that loads it from the cache must parse and reject every syntax
fixture identically; a broken or unwritable cache is ignored without a word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import segql
from fixture_cases import load
from segql.lang.parser import _cache_file
out = {"cache": _cache_file(), "results": []}
for name in ("syntax/valid.test", "syntax/invalid.test"):
    for case in load(name, sections=("out", "tree")):
        source = case.source
        try:
            out["results"].append(["ok", segql.format(segql.parse(source))])
        except segql.SegqlError as e:
            d = e.diagnostics[0]
            out["results"].append([d.code, d.message, d.span.start, d.span.end])
print(json.dumps(out))
"""


def _run(cache_dir: str) -> tuple[dict[str, object], str]:
    """Parse every fixture in a fresh process; ``cache_dir=""`` turns the cache off."""
    env = {**os.environ, "SEGQL_CACHE_DIR": cache_dir}
    env.pop("SEGQL_NO_CACHE", None)
    if not cache_dir:
        env["SEGQL_NO_CACHE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(HERE)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout), proc.stderr


@pytest.fixture(scope="module")
def uncached() -> dict[str, object]:
    got, err = _run("")
    assert got["cache"] is False and err == ""
    return got


def test_built_and_loaded_parsers_agree(tmp_path: Path, uncached: dict[str, object]) -> None:
    cache = tmp_path / "cache"
    first, err1 = _run(str(cache))
    # The parser, and (for error messages) the interactive parser without tree building.
    assert sorted(f.name.split("-")[0] for f in cache.iterdir()) == ["parser", "prefix"]
    (file,) = cache.glob("parser-*")
    assert first["cache"] == str(file)
    stamp = file.stat().st_mtime_ns
    second, err2 = _run(str(cache))
    assert file.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert err1 == err2 == ""
    assert len(uncached["results"]) > 250  # type: ignore[arg-type]
    assert first["results"] == second["results"] == uncached["results"]


def test_a_broken_cache_file_is_rebuilt_silently(
    tmp_path: Path, uncached: dict[str, object]
) -> None:
    cache = tmp_path / "cache"
    _run(str(cache))
    (file,) = cache.glob("parser-*")
    for garbage in (b"", b"not a cache\n", file.read_bytes()[:1000]):
        file.write_bytes(garbage)
        got, err = _run(str(cache))
        assert err == ""
        assert got["results"] == uncached["results"]
        assert file.stat().st_size > 10_000  # written again in full


def test_an_unusable_cache_directory_is_ignored(
    tmp_path: Path, uncached: dict[str, object]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    got, err = _run(str(blocker / "cache"))  # cannot create a directory inside a file
    assert got["cache"] is False and err == ""
    assert got["results"] == uncached["results"]


def test_cache_directory_follows_xdg_and_an_empty_variable_means_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segql.core.fsutil import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEGQL_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "segql"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert cache_dir() == tmp_path / "home" / ".cache" / "segql"
    monkeypatch.setenv("SEGQL_CACHE_DIR", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("", True), ("0", True), ("false", True), ("off", True), ("1", False), ("yes", False),
     ("TRUE", False), ("on", False)],
)  # fmt: skip
def test_no_cache_means_one_thing_per_value(
    value: str, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segql.core.fsutil import parser_cache_enabled

    monkeypatch.setenv("SEGQL_NO_CACHE", value)
    assert parser_cache_enabled() is enabled
