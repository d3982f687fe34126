"""The REPL once through a real terminal: tmux runs it in a pane, send-keys types,
capture-pane reads the screen. Every wait polls the screen with a deadline."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from engines import IN_CI
from test_repl import write_driver


class Tmux:
    """A private tmux server (its own socket, no user configuration) with one session."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.socket = f"segql-test-{uuid.uuid4().hex[:10]}"
        self.target = "repl"
        self.run(
            "new-session", "-d", "-s", self.target, "-x", "120", "-y", "40", "-c", str(cwd),
            command,
        )  # fmt: skip

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.target, "-l", text)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-t", self.target)

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} (x{count}) never appeared on the screen:\n{screen}")

    def close(self) -> None:
        try:
            path: Path | None = Path(self.run("display-message", "-p", "#{socket_path}").strip())
        except subprocess.CalledProcessError:
            path = None
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        if path is not None and path.name == self.socket:
            path.unlink(missing_ok=True)  # tmux leaves its socket file behind


def test_repl_in_a_terminal(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("CI=true but tmux is missing: .ci/run installs it (apt package `tmux`)")
        pytest.skip("tmux is not installed (apt-get install tmux); CI runs this test")
    driver = write_driver(tmp_path)
    history = tmp_path / "history"
    catalog = tmp_path / "segments.yaml"
    run = shlex.join([sys.executable, str(driver), str(catalog), str(history)])
    # The shell stays after the REPL ends, so the exit code shows and the pane survives.
    tmux = Tmux(f'{run}; echo "[repl exited $?]"; sleep 600', tmp_path)
    try:
        tmux.wait_for("segql>")
        # An expression and Enter: the count and share.
        tmux.type("purchases >= 1")
        tmux.keys("Enter")
        tmux.wait_for("4 members (66.7% of 6 contacts)")
        # Tab completes a segment name (the menu shows while typing; Tab takes the only
        # choice), then Enter runs it.
        tmux.type("in segment lap")
        tmux.wait_for("lapsed_vip")
        tmux.keys("Tab")
        tmux.wait_for("in segment lapsed_vip")
        tmux.keys("Enter")
        tmux.wait_for("0 members (0.0% of 6 contacts)")
        # Enter on an unfinished expression continues on the next line.
        tmux.type("age >")
        tmux.keys("Enter")
        tmux.wait_for("segql> age >\n......")
        tmux.type("'x'")
        tmux.keys("Enter")
        screen = tmux.wait_for("^~~")
        assert "cannot compare `age` (integer) with `'x'` (string)" in screen
        # A meta-command, then :quit ends the REPL with exit code 0.
        tmux.type("has orders")
        tmux.keys("Enter")
        tmux.wait_for("4 members (66.7% of 6 contacts)", count=2)
        tmux.type(":save buyers_again")
        tmux.keys("Enter")
        tmux.wait_for("saved segment `buyers_again`")
        tmux.type(":quit")
        tmux.keys("Enter")
        tmux.wait_for("[repl exited 0]")
    finally:
        tmux.close()
    assert "where: has orders" in catalog.read_text()
    text = history.read_text()
    assert "+purchases >= 1" in text and "+in segment lapsed_vip" in text and "+:quit" in text
