"""The report's size history (CONTRACT §6.3, §6.4): for each segment chosen with
``segql report --history @a @b``, a line chart of its size at every point of the series
(by default weekly over the 26 weeks before the report's as_of) with who entered and who
exited since the previous point, drawn as bars under the line and written in a table
beside it (newest first). The points are exactly `segql history`'s (``db.history``), so the
page, its embedded JSON and `segql history --format json` agree; the tests compare all
three."""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from typing import Any

from segql.core.schema import Schema

__all__ = ["CSS", "DEFAULT_WEEKS", "HistoryRequest", "collect", "plan", "render"]

DEFAULT_WEEKS = 26  # without --from: half a year of weekly points before --to
LINE, ENTERED, EXITED = "#7b3fb8", "#2e9d5b", "#d0533f"

CSS = """
.hist{display:flex;gap:1.4rem;align-items:flex-start;flex-wrap:wrap}
.hist .points{max-height:250px;overflow-y:auto;border:1px solid #eef1f5}
.hist table{margin:0}.in{color:#2e9d5b}.out{color:#d0533f}
svg text.in{fill:#2e9d5b}svg text.out{fill:#d0533f}svg text.note{fill:#5b6475}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRequest:
    """What `--history`, `--from`, `--to` and `--every` asked for."""

    targets: tuple[tuple[str, Any], ...]  # (the text given, e.g. "@vip"; its typed tree)
    start: dt.datetime | None = None  # None: steps back from the end over DEFAULT_WEEKS
    end: dt.datetime | None = None  # None: the report's as_of
    every: str = "1w"


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPlan:
    """A request with its instants resolved and checked (before any query runs)."""

    targets: tuple[tuple[str, Any], ...]
    start: dt.datetime
    end: dt.datetime
    every: str


def plan(schema: Schema, request: HistoryRequest, at: dt.datetime) -> HistoryPlan:
    """The series' first and last instants; a bad `--every` or a `--from` after `--to` is
    an error here, before the report's other queries run. Without `--from`, the points
    step back from the end by `--every` (on the schema zone's calendar) as far as they stay
    within the 26 weeks before it, so that the last point is the end itself, whatever the
    step."""
    from segql.engines.history import MAX_POINTS, points
    from segql.ir.timecalc import normalize_as_of, shift
    from segql.lang import ast as a
    from segql.lang.parser import parse

    end = at if request.end is None else normalize_as_of(request.end)
    if request.start is not None:
        start = normalize_as_of(request.start)
    else:
        floor = shift(end, -DEFAULT_WEEKS, a.DurationUnit.WEEK, schema.tz)
        try:
            step = parse(request.every)
        except Exception:
            step = None  # (points() says what is wrong with it)
        start = floor
        if isinstance(step, a.DurationLit) and step.amount > 0:
            start = end
            for k in range(1, MAX_POINTS + 1):
                t = shift(end, -k * step.amount, step.unit, schema.tz)
                if t < floor:
                    break
                start = t
    points(schema, start, end, request.every)  # raises for a bad --every or order
    return HistoryPlan(targets=request.targets, start=start, end=end, every=request.every)


def collect(db: Any, schema: Schema, p: HistoryPlan) -> dict[str, Any]:
    """``{"from", "to", "every", "segments": [{"name", "description", "points"}]}``; each
    ``points`` is `segql history NAME --from --to --every --format json`."""
    from segql.engines.profile import as_of_text

    series = []
    for name, texpr in p.targets:
        seg = schema.segments.get(name[1:]) if name.startswith("@") else None
        series.append(
            {
                "name": name,
                "description": seg.description if seg is not None else None,
                "points": db.history(texpr, schema, start=p.start, end=p.end, every=p.every),
            }
        )
    return {
        "from": as_of_text(p.start),
        "to": as_of_text(p.end),
        "every": p.every,
        "segments": series,
    }


# --- the page ------------------------------------------------------------------------------


def render(hist: dict[str, Any]) -> list[str]:
    """The section: one chart and one table of points per segment."""
    esc = html.escape
    out = [
        "<h2>Size history</h2>",
        f'<p class="sub">Every <span data-k="history-every">{esc(hist["every"])}</span> from '
        f'<span data-k="history-from">{esc(hist["from"])}</span> to '
        f'<span data-k="history-to">{esc(hist["to"])}</span>: the line is the number of '
        'members at each point; under it, the members who <span class="in">entered</span> and '
        'who <span class="out">exited</span> since the point before.</p>',
    ]
    for k, s in enumerate(hist["segments"]):
        pts = s["points"]
        first, last = pts[0]["size"], pts[-1]["size"]
        desc = f" — {esc(s['description'])}" if s["description"] else ""
        out.append(
            f'<h3><span data-k="hist-name:{k}">{esc(s["name"])}</span>{desc} '
            f"<small>({first:,} → {last:,})</small></h3>"
        )
        out.append('<div class="hist">')
        out += _chart(k, s["name"], pts)
        out += _table(k, pts)
        out.append("</div>")
    return out


def when(as_of: str, dated: bool) -> str:
    """A point's instant as the table shows it: the date alone when every point of the
    series is at the same time of day, else the date and the time (UTC)."""
    return as_of[:10] if dated else as_of[:16].replace("T", " ")


def count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def _table(k: int, pts: list[dict[str, Any]]) -> list[str]:
    dated = len({p["as_of"][10:] for p in pts}) == 1
    out = [
        '<div class="points"><table>',
        "<tr><th>as of</th><th>members</th><th>entered</th><th>exited</th></tr>",
    ]
    for i, p in reversed(list(enumerate(pts))):  # the newest first: no scrolling to it
        out.append(
            f'<tr><td data-k="hist-at:{k}:{i}">{when(p["as_of"], dated)}</td>'
            f'<td data-k="hist-size:{k}:{i}">{p["size"]:,}</td>'
            f'<td class="in" data-k="hist-entered:{k}:{i}">{count(p["entered"])}</td>'
            f'<td class="out" data-k="hist-exited:{k}:{i}">{count(p["exited"])}</td></tr>'
        )
    out.append("</table></div>")
    return out


def ticks(lo: int, hi: int, n: int = 4) -> list[int]:
    """Round values from at most ``lo`` to at least ``hi``, about ``n`` steps apart."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)))
    first = (lo // step) * step
    last = -(-hi // step) * step
    return list(range(first, last + 1, step))


def _chart(k: int, name: str, pts: list[dict[str, Any]]) -> list[str]:
    """The size as a line with a dot per point over round gridlines (from zero unless the
    sizes stay above half their peak, then zoomed in), and below it a bar per point up for
    the members who entered and down for those who exited, on one scale for both."""
    esc = html.escape
    left, width, top, height, gap, churn, foot = 64, 470, 10, 150, 16, 60, 22
    sizes = [p["size"] for p in pts]
    lo, hi = min(sizes), max(sizes)
    grid = ticks(0 if lo <= hi / 2 else lo, hi)
    y0, y1 = grid[0], grid[-1]
    n = len(pts)

    def x(i: int) -> float:
        return left + (width * i / (n - 1) if n > 1 else width / 2)

    def y(v: int) -> float:
        return top + height * (1 - (v - y0) / (y1 - y0))

    base = top + height + gap + churn / 2  # the churn bars' zero line
    total = left + width + 50
    full = top + height + gap + churn + foot
    out = [
        f'<svg role="img" class="chart-history" id="chart-history-{k}" '
        f'aria-label="size history of {esc(name)}" width="{total}" height="{full}" '
        f'viewBox="0 0 {total} {full}">'
    ]
    for v in grid:
        out.append(
            f'<line x1="{left}" x2="{left + width}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#e3e7ee"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,}</text>')
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(sizes))
    out.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2.5"/>')
    for i, p in enumerate(pts):
        out.append(
            f'<circle cx="{x(i):.1f}" cy="{y(p["size"]):.1f}" r="3.5" fill="{LINE}">'
            f"<title>{esc(p['as_of'])}: {p['size']:,}</title></circle>"
        )
    moved = [v for p in pts for v in (p["entered"], p["exited"]) if v is not None]
    peak = max(moved) if moved else 0
    scale = (churn / 2 - 2) / (peak or 1)
    bar = max(2.0, min(12.0, 0.6 * width / max(1, n - 1)))
    out.append(f'<line x1="{left}" x2="{left + width}" y1="{base}" y2="{base}" stroke="#c9ced8"/>')
    out.append(f'<text x="{left - 6}" y="{base - 6}" text-anchor="end" class="in">entered</text>')
    out.append(f'<text x="{left - 6}" y="{base + 14}" text-anchor="end" class="out">exited</text>')
    for i, p in enumerate(pts):
        if p["entered"]:
            h = max(1.0, p["entered"] * scale)
            out.append(
                f'<rect x="{x(i) - bar / 2:.1f}" y="{base - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{ENTERED}"><title>{esc(p["as_of"])}: '
                f"{p['entered']:,} entered</title></rect>"
            )
        if p["exited"]:
            h = max(1.0, p["exited"] * scale)
            out.append(
                f'<rect x="{x(i) - bar / 2:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{EXITED}"><title>{esc(p["as_of"])}: '
                f"{p['exited']:,} exited</title></rect>"
            )
    if moved:
        top_y = base - churn / 2 + 10
        out.append(f'<text x="{left + width + 12}" y="{top_y}" class="note">±{peak:,}</text>')
    dated = len({p["as_of"][10:] for p in pts}) == 1
    shown = sorted({0, n // 2, n - 1}) if n > 2 else list(range(n))
    for i in shown:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        out.append(
            f'<text x="{x(i):.1f}" y="{full - 6}" text-anchor="{anchor}">'
            f"{when(pts[i]['as_of'], dated)}</text>"
        )
    out.append("</svg>")
    return out
