"""A real headless browser for the tests of HTML pages: Debian's `chromium` (installed by
.ci/run), driven from the command line — the rendered DOM (`--dump-dom`) and screenshots
(`--screenshot`, read with Pillow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory(prefix="segql-chromium-") as profile:
        cmd = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, timeout=120, check=True)


def dump_dom(page: Path) -> str:
    """The DOM after the browser loaded ``page`` (a file, no network)."""
    return _run("--dump-dom", page.resolve().as_uri()).stdout.decode("utf-8")


def screenshot(page: Path, width: int = 1200, height: int = 3000) -> Any:
    """A PIL image of the page as the browser drew it."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="segql-shot-") as d:
        out = Path(d) / "shot.png"
        _run(f"--window-size={width},{height}", f"--screenshot={out}", page.resolve().as_uri())
        with Image.open(out) as img:
            return img.convert("RGB")
