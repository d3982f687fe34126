"""The REPL once through a real terminal: tmux runs it in a pane, send-keys types,
capture-pane reads the screen. Every wait polls the screen with a deadline."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from engines import IN_CI
from test_repl import write_driver


class Tmux:
    """A private tmux server (its own socket, no user configuration) with one session."""

    def __init__(self, command: str, cwd: Path, *, rows: int = 40) -> None:
        self.socket = f"segql-test-{uuid.uuid4().hex[:10]}"
        self.target = "repl"
        self.run(
            "new-session", "-d", "-s", self.target, "-x", "120", "-y", str(rows), "-c", str(cwd),
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

    def wait_until(self, ok: Callable[[str], bool], what: str, *, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if ok(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"never {what}:\n{screen}")

    def wait_gone(self, text: str, *, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} stayed on the screen:\n{screen}")

    def close(self) -> None:
        try:
            path: Path | None = Path(self.run("display-message", "-p", "#{socket_path}").strip())
        except subprocess.CalledProcessError:
            path = None
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        if path is not None and path.name == self.socket:
            path.unlink(missing_ok=True)  # tmux leaves its socket file behind


def need_tmux() -> None:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("CI=true but tmux is missing: .ci/run installs it (apt package `tmux`)")
        pytest.skip("tmux is not installed (apt-get install tmux); CI runs this test")


def test_repl_in_a_terminal(tmp_path: Path) -> None:
    need_tmux()
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


def test_ctrl_r_then_enter_takes_the_match(tmp_path: Path) -> None:
    """Ctrl-R, a few letters, Enter: the match is in the buffer (as in pgcli), not run;
    Enter again runs it."""
    need_tmux()
    driver = write_driver(tmp_path)
    run = shlex.join([sys.executable, str(driver), "", str(tmp_path / "history")])
    tmux = Tmux(f"{run}; sleep 600", tmp_path)
    try:
        tmux.wait_for("segql>")
        tmux.type("purchases >= 1")
        tmux.keys("Enter")
        tmux.wait_for("4 members")
        tmux.type("age > 100")
        tmux.keys("Enter")
        tmux.wait_for("0 members")
        tmux.keys("C-r")
        tmux.wait_for("I-search backward:")
        tmux.type("purch")
        tmux.wait_for("I-search backward: purch")
        tmux.keys("Enter")
        screen = tmux.wait_gone("I-search")
        assert screen.rstrip().endswith("segql> purchases >= 1")  # in the buffer, not run
        assert screen.count("4 members") == 1
        tmux.keys("Enter")
        tmux.wait_for("4 members", count=2)
    finally:
        tmux.close()


SLOW_DRIVER = """
import sys
from collections.abc import Callable
from pathlib import Path
import duckdb
import segql
from segql.engine import Database
from segql.tools.repl.terminal import run_repl

schema = segql.load_schema({
    "entity": {"table": "contacts", "key": "id", "fields": {"age": "integer"}},
    "events": {"orders": {"table": "orders", "key": "contact_id", "time": "at",
                          "fields": {"amount": "integer"}}},
})
con = duckdb.connect()
con.execute(
    "CREATE TABLE contacts AS SELECT range AS id, (range % 90)::INT AS age FROM range(1000)"
)
# Ten billion orders, computed on the fly: any aggregate over them runs for minutes.
con.execute(
    "CREATE VIEW orders AS SELECT b.range % 1000 AS contact_id, TIMESTAMP '2026-01-01' AS at, "
    "(b.range % 7)::INT AS amount FROM range(1000) a, range(10000000) b"
)
sys.exit(run_repl(schema, Database(connection=con), history_path=Path(sys.argv[1])))
"""


def test_ctrl_c_interrupts_a_running_query(tmp_path: Path) -> None:
    """Ctrl-C during a slow query: a short "interrupted" at once, the prompt again, and the
    database still works."""
    need_tmux()
    driver = tmp_path / "slow.py"
    driver.write_text(SLOW_DRIVER, encoding="utf-8")
    run = shlex.join([sys.executable, str(driver), str(tmp_path / "history")])
    tmux = Tmux(f'{run}; echo "[repl exited $?]"; sleep 600', tmp_path)
    try:
        tmux.wait_for("segql>")
        tmux.type("sum(orders.amount) > 5")
        tmux.keys("Enter")
        time.sleep(1.5)  # the query is running
        assert "members" not in tmux.screen()
        pressed = time.monotonic()
        tmux.keys("C-c")
        screen = tmux.wait_for("interrupted", timeout=30)
        waited = time.monotonic() - pressed
        assert waited < 5, f"Ctrl-C took {waited:.1f} s to stop the query"
        assert "internal error" not in screen and "Traceback" not in screen
        tmux.wait_for("segql>", count=2)
        tmux.type("age >= 80")
        tmux.keys("Enter")
        tmux.wait_for("110 members (11.0% of 1,000 contacts)")
        tmux.type(":quit")
        tmux.keys("Enter")
        tmux.wait_for("[repl exited 0]")
    finally:
        tmux.close()


def test_long_output_is_paged(tmp_path: Path) -> None:
    """Output taller than the terminal goes through `less -FRX`; q returns to the prompt;
    `:pager off` prints it instead."""
    need_tmux()
    if shutil.which("less") is None:
        pytest.skip("less is not installed")
    driver = write_driver(tmp_path)
    run = shlex.join([sys.executable, str(driver), "", str(tmp_path / "history")])
    env = "env -u PAGER -u SEGQL_PAGER -u LESS -u LESSOPEN"
    tmux = Tmux(f"{env} {run}; sleep 600", tmp_path, rows=12)
    try:
        tmux.wait_for("segql>")
        tmux.type(":help")
        tmux.keys("Enter")
        screen = tmux.wait_for("\n:", timeout=30)  # less's prompt on the last line
        assert screen.rstrip().endswith("\n:") and "segql>" not in screen.split("\n", 3)[3]
        tmux.keys("q")
        tmux.wait_for("segql>", count=1)
        tmux.type(":pager off")
        tmux.keys("Enter")
        tmux.wait_for("pager off")
        tmux.type(":help")
        tmux.keys("Enter")
        # the last line of the help, printed, then the prompt again (redrawn a moment
        # later: under load a screen can show the help without it)
        tmux.wait_until(
            lambda screen: "  :quit" in screen and screen.rstrip().endswith("segql>"),
            "the help's last line and then the prompt",
        )
    finally:
        tmux.close()
