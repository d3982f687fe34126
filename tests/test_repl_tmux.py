"""The REPL once through a real terminal (tmux send-keys / capture-pane)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from corpus_data import corpus_dataset
from engines import IN_CI, load_duckdb

HERE = Path(__file__).parent / "fixtures" / "cli"


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, check=True, timeout=20
    ).stdout


def _wait_for(name: str, text: str, timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = _tmux("capture-pane", "-p", "-t", name)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen:\n{screen}")


def test_repl_in_a_terminal(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("tmux is missing: .ci/run installs it")
        pytest.skip("tmux is not installed (apt-get install tmux)")
    import duckdb
    from test_cli import SEGQL

    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    load_duckdb(corpus_dataset(), con)
    con.close()
    name = f"segql-{uuid.uuid4().hex[:8]}"
    cmd = (
        f"SEGQL_HISTORY={tmp_path / 'hist'} {SEGQL} repl --schema {HERE / 'schema.yaml'} "
        f"--catalog {HERE / 'segments.yaml'} --db {db} --as-of 2026-06-01T12:00"
    )
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", cmd],
        check=True,
        env=env,
        timeout=20,
    )
    try:
        _wait_for(name, "segql>")
        _tmux("send-keys", "-t", name, "purchases >= 1", "Enter")
        _wait_for(name, "4 members (66.7% of 6 contacts)")
        _tmux("send-keys", "-t", name, "in segment bu")
        _wait_for(name, "buyers")  # the completion menu (completion while typing)
        _tmux("send-keys", "-t", name, "Tab")
        _wait_for(name, "in segment buyers")
        _tmux("send-keys", "-t", name, "Enter")
        _wait_for(name, "4 members (66.7% of 6 contacts)")
        _tmux("send-keys", "-t", name, "age >", "Enter")  # an open operator continues
        _wait_for(name, "...")
        _tmux("send-keys", "-t", name, "'x'", "Enter")
        screen = _wait_for(name, "^~~")
        assert "cannot compare `age` (integer)" in screen
        _tmux("send-keys", "-t", name, ":quit", "Enter")
        end = time.monotonic() + 15
        while time.monotonic() < end:
            alive = subprocess.run(["tmux", "has-session", "-t", name], capture_output=True)
            if alive.returncode != 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the REPL did not quit")
        assert "purchases >= 1" in (tmp_path / "hist").read_text()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
