"""The HTML report with and without a size history (issue 14).

    python bench/bench_report.py [--scale 1.0] [--runs 3]

On the synthetic CRM (bench/crm.py), a catalog of four segments (bench_history.py's two,
two more) and one segmentation: `report.collect` at as_of (the default page: overlaps,
sizes, the segmentation's profile by the three traits), then the same with the history of
the two segments (`segql report --history @vip @re_engagement`: 27 weekly points each, the
default span), alternating. Prints the medians; the point is the ratio, which is why the
default page has no history (docs/analytics.md)."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crm
from bench_history import AS_OF, SEGMENTS

from segql.core.schema import Schema

MORE = {
    "shoes_de": "country = 'DE' and count(orders where category = 'shoes' within 90d) >= 2",
    "lapsed": "purchases >= 1 and last(orders) > 180d",
}
CLASSES = {"very_good": "purchases >= 8 and total_spent >= 1500", "good": "purchases >= 4",
           "occasional": "purchases >= 1"}  # fmt: skip


def catalog() -> Schema:
    from segql.checker import check_schema
    from segql.core.schema import ClassDef, SegmentationDef, SegmentDef

    segs = {n: SegmentDef(name=n, text=t) for n, t in {**SEGMENTS, **MORE}.items()}
    value = SegmentationDef(
        name="value_class",
        classes=tuple(ClassDef(name=n, text=t) for n, t in CLASSES.items()),
        otherwise="prospects",
    )
    schema = dataclasses.replace(crm.schema(), segments=segs, segmentations={"value_class": value})
    errors = [d for d in check_schema(schema) if d.is_error]  # (types the definitions)
    assert not errors, errors
    return schema


def main() -> None:
    from segql.engine import Database
    from segql.ir.definitions import definitions
    from segql.tools.report import HistoryRequest, collect

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    db = Database(crm.ensure(args.scale))
    schema = catalog()
    seg = definitions(schema).segments
    history = HistoryRequest(targets=tuple((f"@{n}", seg[n]) for n in SEGMENTS))
    plain: list[float] = []
    charted: list[float] = []
    for _ in range(args.runs):
        t = time.perf_counter()
        collect(db, schema, as_of=AS_OF)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        data = collect(db, schema, as_of=AS_OF, history=history)
        charted.append(time.perf_counter() - t)
        assert [len(s["points"]) for s in data["history"]["segments"]] == [27, 27]
    a, b = statistics.median(plain), statistics.median(charted)
    print("| page | seconds |\n| --- | ---: |")
    print(f"| default (no history) | {a:.2f} |")
    print(f"| with --history @vip @re_engagement | {b:.2f} ({b / a:.1f}x) |")


if __name__ == "__main__":
    main()
