"""`segql report`: one self-contained page, checked in a real headless browser — the numbers
the browser shows equal the data embedded in the page (and the engine's answers), the
charts are drawn (not blank), and nothing is fetched from elsewhere."""

from __future__ import annotations

import itertools
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
    assert set(data) == {"as_of", "population", "segments", "overlap", "profiles", "history"}
    assert data["history"] is None  # no --history: no history section (it costs a query a point)
    assert data["as_of"] == "2026-06-01T12:00:00Z"
    r = run("report", *base(db), "-o", str(tmp_path))
    assert r.returncode == 2 and "is a folder" in r.stderr
    r = run("report", *base(db), "-o", str(tmp_path / "nowhere" / "x.html"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = run("report", *base(db), "-o", str(tmp_path / "x.html"), "-m", "email")
    assert r.returncode == 1 and not (tmp_path / "x.html").exists()


# --- the size history (--history) ------------------------------------------------------

HISTORY = ["@buyers", "has orders within 60d", "purchases < 3"]
FROM = "2025-12-01T12:00:00Z"  # the default: 26 weeks before --to, which defaults to --as-of


@pytest.fixture(scope="module")
def history_page(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("report-history") / "report.html"
    r = run("report", *base(db), "-o", str(out), "-m", "purchases", "--history", *HISTORY)
    assert r.returncode == 0, r.stderr
    return out


class _Svg(HTMLParser):
    """Per history chart, its line's points and its bars' colours."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, list[tuple[float, float]]] = {}
        self.dots: dict[str, int] = {}
        self.bars: dict[str, list[str]] = {}
        self._chart = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self._chart = a.get("id") or ""
        elif self._chart.startswith("chart-history-"):
            if tag == "polyline":
                pts = [xy.split(",") for xy in str(a["points"]).split()]
                self.lines[self._chart] = [(float(x), float(y)) for x, y in pts]
            elif tag == "circle":
                self.dots[self._chart] = self.dots.get(self._chart, 0) + 1
            elif tag == "rect":
                self.bars.setdefault(self._chart, []).append(str(a["fill"]))


def test_the_browser_shows_the_history_and_it_is_segql_historys(
    history_page: Path,
    db: Path,  # noqa: F811
) -> None:
    dom = dump_dom(history_page)
    p = _Page()
    p.feed(dom)
    hist = json.loads(p.data)["history"]
    v = p.values
    assert (hist["from"], hist["to"], hist["every"]) == (FROM, "2026-06-01T12:00:00Z", "1w")
    assert (v["history-from"], v["history-to"], v["history-every"]) == (
        hist["from"], hist["to"], hist["every"]
    )  # fmt: skip
    assert [s["name"] for s in hist["segments"]] == HISTORY
    assert hist["segments"][0]["description"] == "Anyone who ordered"
    assert hist["segments"][1]["description"] is None
    svg = _Svg()
    svg.feed(dom)
    for k, s in enumerate(hist["segments"]):
        assert v[f"hist-name:{k}"] == s["name"]  # `purchases < 3` escaped and shown as written
        want = json.loads(
            run("history", s["name"], *base(db), "--from", FROM, "--format", "json").stdout
        )
        assert s["points"] == want  # the page's data are `segql history`'s
        assert len(want) == 27 and want[-1]["as_of"] == "2026-06-01T12:00:00Z"
        for i, pt in enumerate(s["points"]):
            assert v[f"hist-at:{k}:{i}"] == pt["as_of"][:10]
            assert v[f"hist-size:{k}:{i}"] == f"{pt['size']:,}"
            for key in ("entered", "exited"):
                n = pt[key]
                assert v[f"hist-{key}:{k}:{i}"] == ("—" if n is None else f"{n:,}")
        # the chart draws these numbers: a dot per point, on a line whose height is a
        # linear function of the size (higher: more members), and a bar per change
        line = svg.lines[f"chart-history-{k}"]
        sizes = [pt["size"] for pt in s["points"]]
        assert len(line) == len(sizes) == svg.dots[f"chart-history-{k}"]
        assert [x for x, _ in line] == sorted(x for x, _ in line)
        lo, hi = sizes.index(min(sizes)), sizes.index(max(sizes))
        assert sizes[lo] < sizes[hi]
        slope = (line[hi][1] - line[lo][1]) / (sizes[hi] - sizes[lo])
        assert slope < 0
        for (_, y), size in zip(line, sizes, strict=True):
            assert abs(y - (line[lo][1] + slope * (size - sizes[lo]))) < 0.2
        bars = svg.bars.get(f"chart-history-{k}", [])
        assert bars.count("#2e9d5b") == sum(1 for pt in s["points"] if pt["entered"])
        assert bars.count("#d0533f") == sum(1 for pt in s["points"] if pt["exited"])
    # the last point is the report's as_of: its size is the sizes table's
    sizes_now = {s["name"]: s["size"] for s in json.loads(p.data)["segments"]}
    assert hist["segments"][0]["points"][-1]["size"] == sizes_now["buyers"]
    moved = hist["segments"][1]["points"]
    assert any(pt["entered"] for pt in moved) and any(pt["exited"] for pt in moved)


def test_the_history_charts_are_drawn(history_page: Path) -> None:
    img = screenshot(history_page, width=1000, height=1400)
    px = img.load()
    line = [
        (x, y)
        for y in range(img.height)
        for x in range(img.width)
        if px[x, y] == (0x7B, 0x3F, 0xB8)
    ]
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert len(line) > 500
    assert max(xs) - min(xs) > 400  # the line runs across the chart
    assert max(ys) - min(ys) > 200  # over three charts, at their heights
    colours = {c for n, c in img.getcolors(1 << 20) or [] if n > 30}
    assert (0x2E, 0x9D, 0x5B) in colours and (0xD0, 0x53, 0x3F) in colours  # entered, exited


def test_report_history_options_and_errors(db: Path, tmp_path: Path) -> None:  # noqa: F811
    r = run("report", *base(db), "--json", "-o", "-", "--history", "@buyers", "@buyers",
            "--from", "2026-03-01", "--to", "2026-05-01", "--every", "4w")  # fmt: skip
    assert r.returncode == 0, r.stderr
    hist = json.loads(r.stdout)["history"]
    assert [s["name"] for s in hist["segments"]] == ["@buyers"]  # charted once
    want = run("history", "@buyers", *base(db), "--from", "2026-03-01", "--to", "2026-05-01",
               "--every", "4w", "--format", "json")  # fmt: skip
    assert hist["segments"][0]["points"] == json.loads(want.stdout)
    assert [pt["as_of"] for pt in hist["segments"][0]["points"]] == [
        "2026-03-01T00:00:00Z", "2026-03-29T00:00:00Z", "2026-04-26T00:00:00Z"
    ]  # fmt: skip
    # without --from the points step back from --to for 26 weeks: the last point is --to
    r = run("report", *base(db), "--json", "-o", "-", "--history", "@buyers", "--every", "4w")
    got = [pt["as_of"] for pt in json.loads(r.stdout)["history"]["segments"][0]["points"]]
    assert got[0] == "2025-12-15T12:00:00Z" and got[-1] == "2026-06-01T12:00:00Z"
    assert len(got) == 7  # 24 weeks back; 28 would be more than 26
    r = run("report", *base(db), "--json", "-o", "-", "--history", "@buyers", "--every", "1mo")
    got = [pt["as_of"] for pt in json.loads(r.stdout)["history"]["segments"][0]["points"]]
    assert got[0] == "2025-12-01T12:00:00Z" and got[-1] == "2026-06-01T12:00:00Z"
    out = tmp_path / "x.html"
    for args, code, words in [
        (["--every", "1d"], 2, "--every is for --history"),
        (["--from", "2026-01-01"], 2, "--from is for --history"),
        (["--history", "@nope"], 1, "unknown segment `nope`"),
        (["--history", "@buyers", "--every", "soon"], 1, "`--every soon` is not a duration"),
        (["--history", "@buyers", "--from", "2027-01-01"], 1, "ends before it starts"),
        (["--history", "@buyers", "--every", "1s"], 1, "more than 1000 points"),
        (["--history", "purchases +"], 1, "error[syntax]"),
    ]:
        r = run("report", *base(db), "-o", str(out), *args)
        assert r.returncode == code and words in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and not out.exists()


def test_the_demo_prints_and_charts_six_months_of_two_segments(tmp_path: Path) -> None:
    """`segql demo`: each history line (first size, sparkline, last size, entered and exited
    summed over the weeks) and its report's history equal the segments' members at each
    week, computed here one instant at a time."""
    import datetime as dt
    import io

    from segql.config.loader import load_schema
    from segql.engine import Database
    from segql.ir.definitions import definitions
    from segql.tools.demo import run as demo

    out = io.StringIO()
    assert demo.run_demo(out=out, cache_dir=tmp_path / "cache") == 0
    text = out.getvalue()
    folder = Path(text.split("data: ")[1].split()[0])
    p = _Page()
    p.feed((folder / "report.html").read_text(encoding="utf-8"))
    hist = json.loads(p.data)["history"]
    assert [s["name"] for s in hist["segments"]] == ["@vip", "@re_engagement"]
    assert (hist["from"], hist["to"]) == ("2025-12-01T12:00:00Z", "2026-06-01T12:00:00Z")
    schema = load_schema(folder / "schema.yaml", catalogs=[folder / "segments.yaml"])
    start = dt.datetime(2025, 12, 1, 12, tzinfo=dt.UTC)
    weeks = [start + dt.timedelta(weeks=i) for i in range(27)]
    lines = text.split("Six months, week by week")[1].splitlines()
    with Database(file_roots=[folder]) as engine:
        for s in hist["segments"]:
            texpr = definitions(schema).segments[s["name"][1:]]
            members = [set(engine.member_ids(texpr, schema, as_of=t)) for t in weeks]
            sizes = [len(m) for m in members]
            entered = [len(b - a) for a, b in itertools.pairwise(members)]
            exited = [len(a - b) for a, b in itertools.pairwise(members)]
            assert [pt["size"] for pt in s["points"]] == sizes
            assert [pt["entered"] for pt in s["points"]] == [None, *entered]
            assert [pt["exited"] for pt in s["points"]] == [None, *exited]
            printed = next(ln for ln in lines if ln.startswith(s["name"][1:] + " ")).split()
            table = run("history", s["name"], "--from", hist["from"], cwd=folder)  # its sparkline
            assert table.returncode == 0, table.stderr
            assert printed == [
                s["name"][1:], f"{sizes[0]:,}", table.stdout.split()[-1], f"{sizes[-1]:,}",
                f"+{sum(entered):,}", f"-{sum(exited):,}",
            ]  # fmt: skip
            assert sum(entered) > 0
    assert f"segql history @vip --from {hist['from']}" in text  # the command that shows it


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 0), (0, 4), (5, 5), (7, 8), (142, 261), (937, 1181), (0, 1_000_003)]
)
def test_the_history_axis_has_round_evenly_spaced_values_around_the_sizes(lo: int, hi: int) -> None:
    from segql.tools.report_history import ticks

    t = ticks(lo, hi)
    steps = {b - a for a, b in itertools.pairwise(t)}
    assert t[0] <= lo and t[-1] >= hi and 2 <= len(t) <= 9 and len(steps) == 1
    step = steps.pop()
    assert step >= 1 and str(step).rstrip("0") in {"1", "2", "25", "5"}
    assert t[0] % step == 0
