"""`segql report`: one self-contained page, checked in a real headless browser — the numbers
the browser shows equal the data embedded in the page (and the engine's answers), the
charts are drawn (not blank), and nothing is fetched from elsewhere."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from browser import dump_dom, screenshot
from test_cli import base, db, run  # noqa: F401 - the CLI's database fixture

AS_OF = "2026-06-01T12:00:00"


class _Page(HTMLParser):
    """Texts of the elements marked `data-k`, the embedded data, and every URL."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.data = ""
        self.urls: list[str] = []
        self._open: list[str | None] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for k in ("src", "href"):
            if a.get(k):
                self.urls.append(str(a[k]))
        self._script = tag == "script" and a.get("id") == "segql-data"
        self._open.append(a.get("data-k"))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script:
            self.data += data
        key = next((k for k in reversed(self._open) if k), None)
        if key:
            self.values[key] = self.values.get(key, "") + data


@pytest.fixture(scope="module")
def page(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("report") / "report.html"
    r = run("report", *base(db), "-o", str(out), "-m", "total_spent, purchases, age")
    assert r.returncode == 0, r.stderr
    return out


def test_the_browser_shows_the_embedded_numbers(page: Path, db: Path) -> None:  # noqa: F811
    p = _Page()
    p.feed(dump_dom(page))
    data = json.loads(p.data)
    v = p.values
    assert v["population"] == "6" and data["population"] == 6
    for s in data["segments"]:
        assert v[f"size:{s['name']}"] == f"{s['size']:,}"
        assert v[f"share:{s['name']}"] == f"{100 * s['share']:.1f}%"
    for pair in data["overlap"]["pairs"]:
        key = f"{pair['a']}|{pair['b']}"
        assert v[f"both:{key}"] == f"{pair['both']:,}"
    prof = data["profiles"]["value_class"]
    for g in prof["groups"]:
        assert v[f"class-size:value_class:{g['name']}"] == f"{g['size']:,}"
        mean = g["metrics"]["total_spent"]["mean"]
        shown = v[f"mean:value_class:{g['name']}:total_spent"]
        # shown rounded: whole numbers from 1,000 on, else two decimals
        want = "-" if mean is None else f"{mean:,.0f}" if abs(mean) >= 1000 else f"{mean:,.2f}"
        assert shown == want
    for m, e in prof["separation"].items():
        assert v[f"eta2:value_class:{m}"] == ("-" if e is None else f"{e:.2f}")
    # and the data are the engine's answers
    counts = json.loads(run("count", "--all", *base(db), "--format", "json").stdout)
    assert {s["name"]: s["size"] for s in data["segments"]} == counts["segments"]
    profile = json.loads(
        run(
            "profile",
            "@value_class",
            "-m",
            "total_spent, purchases, age",
            *base(db),
            "--format",
            "json",
        ).stdout
    )
    assert profile == prof


def test_the_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    p = _Page()
    p.feed(text)
    assert p.urls == []  # no script, stylesheet, image or font from anywhere
    assert not re.search(r"https?://|@import|url\(", text.replace("http://www.w3.org/2000/svg", ""))
    scripts = re.findall(r"<script[^>]*>", text)
    assert scripts == ['<script type="application/json" id="segql-data">']  # data, not code


def test_the_charts_are_drawn(page: Path) -> None:
    img = screenshot(page, width=1000, height=1800)
    bars = img.getcolors(1 << 20)
    assert bars is not None
    colours = {c for n, c in bars if n > 50}
    assert (0x3B, 0x7D, 0xD8) in colours  # the size bars
    assert (0x7A, 0xA7, 0xE6) in colours  # the profile bars
    assert any(b > 120 and r < 60 for r, g, b in colours)  # a dark heat-map cell
    inked = sum(n for n, c in bars if c != (255, 255, 255))
    assert inked > 0.03 * img.width * img.height


def test_report_json_and_errors(db: Path, tmp_path: Path) -> None:  # noqa: F811
    r = run("report", *base(db), "--json", "-o", "-")
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    assert set(data) == {"as_of", "population", "segments", "overlap", "profiles"}
    assert data["as_of"] == "2026-06-01T12:00:00Z"
    r = run("report", *base(db), "-o", str(tmp_path))
    assert r.returncode == 2 and "is a folder" in r.stderr
    r = run("report", *base(db), "-o", str(tmp_path / "nowhere" / "x.html"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = run("report", *base(db), "-o", str(tmp_path / "x.html"), "-m", "email")
    assert r.returncode == 1 and not (tmp_path / "x.html").exists()
