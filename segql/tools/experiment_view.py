"""An experiment's result as text for a person (`segql results`, the demo) or JSON."""

from __future__ import annotations

import json
from typing import Any


def render_results(result: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2) + "\n"
    conversion = result["kind"] == "conversion"
    lines = [
        f"experiment {result['experiment']} ({result['status']}): audience "
        f"{result['audience']:,} frozen at {result['start']}; goal `{result['goal']}` "
        f"over ({result['start']}, {result['as_of']}]",
        "",
    ]
    value = "rate" if conversion else "mean"
    head = (
        f"{'arm':<12} {'size':>8} {'share':>7} {'expected':>8} "
        f"{'conv.' if conversion else 'n':>7} {value:>9} {'lift':>8} {'95% interval':>19} "
        f"{'p':>8}"
    )
    lines.append(head)
    for a in result["arms"]:
        measured = a["conversions"] if conversion else a["count"]
        v = a["rate"] if conversion else a["mean"]
        shown = "-" if v is None else (f"{100 * v:.2f}%" if conversion else f"{v:,.2f}")
        lift = "control" if a["p_value"] is None and a is result["arms"][0] else _pct(a["lift"])
        interval = (
            "-" if a["lift_low"] is None else f"[{_pct(a['lift_low'])}, {_pct(a['lift_high'])}]"
        )
        p = "-" if a["p_value"] is None else f"{a['p_value']:.3g}"
        share = "-" if a["share"] is None else f"{100 * a['share']:.1f}%"
        lines.append(
            f"{a['name']:<12} {a['size']:>8,} {share:>7} {100 * a['expected_share']:>7.1f}% "
            f"{measured:>7,} {shown:>9} {lift:>8} {interval:>19} {p:>8}"
        )
    srm = result["srm"]
    if srm["p_value"] is not None:
        verdict = "MISMATCH" if srm["flagged"] else "ok"
        lines.append("")
        lines.append(
            f"sample ratio: {verdict} (χ² = {srm['chi2']:.2f}, p = {srm['p_value']:.3g}; "
            "flagged below 0.001)"
        )
    for w in result["warnings"]:
        lines.append("")
        lines.append(f"warning[{w['code']}]: {w['message']}")
    return "\n".join(lines) + "\n"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:+.1f}%"
