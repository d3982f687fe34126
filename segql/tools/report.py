"""`segql report` (CONTRACT §6.3): one self-contained HTML page — no script, no network, no
font or stylesheet from elsewhere; charts are inline SVG — with the catalog's segment sizes,
the size history of the segments chosen with --history (report_history.py), their overlaps
as a heat map, and each segmentation's profile (per class the mean of each metric with its
p10–p90 spread) with η² verdicts. The numbers it shows are the JSON embedded in the page
(``<script type="application/json" id="segql-data">``), which the tests compare with the
page a browser renders."""

from __future__ import annotations

import html
import json
import math
from typing import Any

from segql.core.schema import Schema
from segql.tools.report_history import CSS as _HISTORY_CSS
from segql.tools.report_history import HistoryRequest
from segql.tools.report_history import render as _history

__all__ = ["DEFAULT_METRICS", "HistoryRequest", "collect", "render"]

DEFAULT_METRICS = 6  # numeric traits profiled when none are given


def default_metrics(schema: Schema) -> list[str]:
    """The schema's numeric traits that read only the contact's own events (no ranking)."""
    from segql.ir import nodes as ir
    from segql.ir.definitions import definitions

    out = []
    for name, texpr in definitions(schema).traits.items():
        if texpr.type.is_numeric and not ir.needs_population(texpr):
            out.append(name)
    return out[:DEFAULT_METRICS]


def collect(
    db: Any,
    schema: Schema,
    *,
    as_of: Any = None,
    metrics: list[str] | None = None,
    history: HistoryRequest | None = None,
) -> dict[str, Any]:
    """Everything the page shows, computed by the engine at one instant: the overlaps (one
    query, which gives the sizes too), the number of contacts, a profile per segmentation,
    and the size history of the segments ``history`` names (None: no history section)."""
    from segql.engines.profile import as_of_text
    from segql.ir.timecalc import normalize_as_of
    from segql.tools import report_history

    at = normalize_as_of(as_of)  # "now" is one instant for the whole page
    hist = report_history.plan(schema, history, at) if history is not None else None
    segments = list(schema.segments)
    overlap = db.overlap(schema, as_of=at) if len(segments) >= 2 else None
    if overlap is not None:
        sizes = {s["name"]: s["size"] for s in overlap["segments"]}
    else:
        sizes = db.counts(schema, segments, as_of=at) if segments else {}
    population = db.count("true", schema, as_of=at)
    chosen = metrics if metrics is not None else default_metrics(schema)
    return {
        "as_of": as_of_text(at),
        "population": population,
        "segments": [
            {
                "name": n,
                "size": sizes[n],
                "share": sizes[n] / population if population else None,
                "description": schema.segments[n].description,
            }
            for n in segments
        ],
        "overlap": overlap,
        "profiles": {
            name: db.profile(schema, [f"@{name}"], chosen, as_of=at)
            for name in schema.segmentations
            if chosen
        },
        "history": report_history.collect(db, schema, hist) if hist is not None else None,
    }


# --- the page ------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;margin:2.2rem 0 .6rem;
border-bottom:1px solid #dde2ea;padding-bottom:.2rem}h3{font-size:1rem;margin:1.4rem 0 .4rem}
.sub{color:#5b6475;margin:0 0 1.2rem}table{border-collapse:collapse;margin:.4rem 0}
td,th{padding:.2rem .6rem;text-align:right;border-bottom:1px solid #eef1f5}
th:first-child,td:first-child,td.text{text-align:left}th{font-weight:600;color:#394152}
.warn{background:#fff6e0;border-left:4px solid #e0a400;padding:.4rem .8rem;margin:.4rem 0}
.verdict{font-weight:600}.strong{color:#17803d}.useful{color:#2f6fb3}.weak{color:#b0471f}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
"""


def render(data: dict[str, Any]) -> str:
    """The page for :func:`collect`'s data."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>segql report</title>",
        f"<style>{_CSS}{_HISTORY_CSS}</style></head><body>",
        "<h1>Segments</h1>",
        f'<p class="sub">as of <span data-k="as_of">{esc(data["as_of"])}</span> · '
        f'<span data-k="population">{data["population"]:,}</span> contacts</p>',
    ]
    parts += _sizes(data)
    if data.get("history"):
        parts += _history(data["history"])
    if data.get("overlap"):
        parts += _overlap(data["overlap"])
    for name, prof in data["profiles"].items():
        parts += _profile(name, prof)
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    parts.append(f'<script type="application/json" id="segql-data">{payload}</script>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _svg(ident: str, label: str, width: float, height: float) -> str:
    return (
        f'<svg role="img" aria-label="{label}" id="{ident}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.2f}"


def _sizes(data: dict[str, Any]) -> list[str]:
    esc = html.escape
    segs = data["segments"]
    if not segs:
        return ["<h2>Sizes</h2>", "<p>The catalog has no segments.</p>"]
    row, label, width = 22, 210, 560
    top = max((s["share"] or 0) for s in segs) or 1
    out = [
        "<h2>Sizes</h2>",
        _svg("chart-sizes", "segment sizes", label + width + 140, row * len(segs) + 8),
    ]
    for i, s in enumerate(segs):
        y = 4 + i * row
        w = max(1.0, width * (s["share"] or 0) / top)
        out.append(f'<text x="{label - 8}" y="{y + 15}" text-anchor="end">{esc(s["name"])}</text>')
        out.append(
            f'<rect class="bar" x="{label}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="#3b7dd8" rx="2"><title>{esc(s["name"])}: {s["size"]:,}</title></rect>'
        )
        out.append(
            f'<text x="{label + w + 6:.1f}" y="{y + 15}">{s["size"]:,} ({_pct(s["share"])})</text>'
        )
    out.append("</svg>")
    out.append("<table><tr><th>segment</th><th>members</th><th>share</th><th></th></tr>")
    for s in segs:
        n = esc(s["name"])
        out.append(
            f'<tr><td>{n}</td><td data-k="size:{n}">{s["size"]:,}</td>'
            f'<td data-k="share:{n}">{_pct(s["share"])}</td>'
            f'<td class="text">{esc(s["description"] or "")}</td></tr>'
        )
    out.append("</table>")
    return out


def _heat(j: float | None) -> str:
    """White (0) to dark blue (1)."""
    if j is None:
        return "#f4f5f7"
    t = math.sqrt(max(0.0, min(1.0, j)))  # small overlaps stay visible
    r, g, b = (int(255 + (c - 255) * t) for c in (20, 70, 160))
    return f"#{r:02x}{g:02x}{b:02x}"


def _overlap(ov: dict[str, Any]) -> list[str]:
    esc = html.escape
    names = [s["name"] for s in ov["segments"]]
    jac: dict[tuple[str, str], dict[str, Any]] = {}
    for p in ov["pairs"]:
        jac[(p["a"], p["b"])] = jac[(p["b"], p["a"])] = p
    cell, label = 22, 210
    n = len(names)
    size = label + cell * n + 90  # room for the last slanted label
    out = [
        "<h2>Overlaps</h2>",
        '<p class="sub">Jaccard index of each pair: members in both over members in '
        "either (0: disjoint, 1: the same contacts).</p>",
        f'<svg role="img" aria-label="overlap heat map" id="chart-overlap" width="{size}" '
        f'height="{size}" viewBox="0 0 {size} {size}">',
    ]
    for i, a in enumerate(names):
        out.append(
            f'<text x="{label - 8}" y="{label + i * cell + 15}" text-anchor="end">{esc(a)}</text>'
        )
        out.append(
            f'<text transform="translate({label + i * cell + 15},{label - 8}) rotate(-60)">'
            f"{esc(a)}</text>"
        )
        for k, b in enumerate(names):
            p = jac.get((a, b))
            j = 1.0 if a == b else (p["jaccard"] if p else None)
            tip = (
                f"{a}: {ov['segments'][i]['size']:,}"
                if a == b
                else (
                    f"{a} & {b}: {p['both']:,} in both, Jaccard {j:.3f}"
                    if p and j is not None
                    else ""
                )
            )
            out.append(
                f'<rect class="cell" x="{label + k * cell}" y="{label + i * cell}" '
                f'width="{cell - 1}" height="{cell - 1}" fill="{_heat(j)}">'
                f"<title>{esc(tip)}</title></rect>"
            )
    out.append("</svg>")
    out.append("<table><tr><th>pair</th><th>both</th><th>Jaccard</th></tr>")
    for p in sorted(ov["pairs"], key=lambda p: -(p["jaccard"] or 0))[:15]:
        key = f"{esc(p['a'])}|{esc(p['b'])}"
        j = "-" if p["jaccard"] is None else f"{p['jaccard']:.3f}"
        out.append(
            f"<tr><td>{esc(p['a'])} &amp; {esc(p['b'])}</td>"
            f'<td data-k="both:{key}">{p["both"]:,}</td><td data-k="jaccard:{key}">{j}</td></tr>'
        )
    out.append("</table>")
    return out


def _profile(name: str, prof: dict[str, Any]) -> list[str]:
    from segql.engines.profile import verdict

    esc = html.escape
    n = esc(name)
    groups = prof["groups"]
    out = [f"<h2>Segmentation: {n}</h2>"]
    out.append("<table><tr><th>class</th><th>contacts</th><th>share</th></tr>")
    for g in groups:
        gn = esc(g["name"])
        out.append(
            f'<tr><td>{gn}</td><td data-k="class-size:{n}:{gn}">{g["size"]:,}</td>'
            f'<td data-k="class-share:{n}:{gn}">{_pct(g["share"])}</td></tr>'
        )
    out.append("</table>")
    for w in prof["warnings"]:
        out.append(f'<div class="warn">{esc(w["message"])}</div>')
    metrics = list(groups[0]["metrics"]) if groups else []
    for m in metrics:
        e = prof["separation"].get(m)
        shown = "-" if e is None else f"{e:.2f}"
        v = verdict(e)
        out.append(
            f'<h3>{esc(m)} — η² <span data-k="eta2:{n}:{esc(m)}">{shown}</span> '
            f'<span class="verdict {v.split()[0]}">{v}</span></h3>'
        )
        out += _spread_chart(name, m, groups)
        out.append(
            "<table><tr><th>class</th><th>mean</th><th>std</th><th>p10</th><th>median</th>"
            "<th>p90</th><th>nulls</th></tr>"
        )
        for g in groups:
            st = g["metrics"][m]
            gn = esc(g["name"])
            cells = "".join(
                f'<td data-k="{k}:{n}:{gn}:{esc(m)}">{_num(st[k])}</td>'
                for k in ("mean", "std", "p10", "median", "p90")
            )
            out.append(f"<tr><td>{gn}</td>{cells}<td>{st['nulls']:,}</td></tr>")
        out.append("</table>")
    return out


def _spread_chart(name: str, metric: str, groups: list[dict[str, Any]]) -> list[str]:
    """Per class a bar to the mean and a line from p10 to p90."""
    esc = html.escape
    row, label, width = 26, 210, 560
    values = [
        v
        for g in groups
        for v in (g["metrics"][metric]["p90"], g["metrics"][metric]["mean"])
        if v is not None
    ]
    lows = [g["metrics"][metric]["p10"] for g in groups if g["metrics"][metric]["p10"] is not None]
    lo = min([0.0, *lows]) if lows else 0.0
    hi = max(values) if values else 1.0
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return label + width * (v - lo) / span

    out = [
        f'<svg role="img" class="chart-profile" aria-label="{esc(name)} {esc(metric)}" '
        f'width="{label + width + 120}" height="{row * len(groups) + 8}" '
        f'viewBox="0 0 {label + width + 120} {row * len(groups) + 8}">'
    ]
    for i, g in enumerate(groups):
        st = g["metrics"][metric]
        y = 4 + i * row
        out.append(f'<text x="{label - 8}" y="{y + 16}" text-anchor="end">{esc(g["name"])}</text>')
        if st["mean"] is None:
            out.append(f'<text x="{label + 4}" y="{y + 16}">no values</text>')
            continue
        w = max(1.0, x(st["mean"]) - x(0.0 if lo <= 0 else lo))
        out.append(
            f'<rect class="bar" x="{x(0.0 if lo <= 0 else lo):.1f}" y="{y + 5}" width="{w:.1f}" '
            f'height="{row - 10}" fill="#7aa7e6" rx="2">'
            f"<title>mean {_num(st['mean'])}</title></rect>"
        )
        if st["p10"] is not None and st["p90"] is not None:
            ym = y + row / 2
            out.append(
                f'<line x1="{x(st["p10"]):.1f}" x2="{x(st["p90"]):.1f}" y1="{ym}" y2="{ym}" '
                'stroke="#1d2330" stroke-width="2"/>'
            )
        out.append(f'<text x="{x(max(st["mean"], st["p90"] or st["mean"])) + 6:.1f}" '
                   f'y="{y + 16}">{_num(st["mean"])}</text>')  # fmt: skip
    out.append("</svg>")
    return out
