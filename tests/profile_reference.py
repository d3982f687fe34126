"""An independent computation of `segql profile` with pandas, from per-contact values."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def stats(values: pd.Series, size: int) -> dict[str, Any]:
    x = values.dropna().astype(float)
    n = len(x)
    q = x.quantile([0.1, 0.5, 0.9], interpolation="linear") if n else None
    return {
        "count": n,
        "nulls": size - n,
        "mean": float(x.mean()) if n else None,
        "std": float(x.std(ddof=1)) if n > 1 else None,
        "min": float(x.min()) if n else None,
        "p10": float(q.iloc[0]) if n else None,
        "median": float(q.iloc[1]) if n else None,
        "p90": float(q.iloc[2]) if n else None,
        "max": float(x.max()) if n else None,
    }


def eta2(frame: pd.DataFrame, cls: str, metric: str) -> float | None:
    d = frame[[cls, metric]].dropna().astype({metric: float})
    if d.empty:
        return None
    grand = d[metric].mean()
    total = float(((d[metric] - grand) ** 2).sum())
    means = d.groupby(cls)[metric].agg(["mean", "size"])
    between = float((means["size"] * (means["mean"] - grand) ** 2).sum())
    return None if total <= 0 else between / total


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def assert_profile(got: dict[str, Any], frame: pd.DataFrame, groups: dict[str, Any],
                   metrics: list[str], separation: dict[str, str]) -> None:  # fmt: skip
    """``groups``: name -> boolean mask of ``frame``; ``separation``: metric -> class
    column (for one segmentation target)."""
    assert got["population"] == len(frame)
    names = [g["name"] for g in got["groups"]]
    assert names == list(groups), names
    for g in got["groups"]:
        part = frame[groups[g["name"]]]
        assert g["size"] == len(part), g["name"]
        assert close(g["share"], len(part) / len(frame) if len(frame) else None)
        for m in metrics:
            want = stats(part[m], len(part))
            for k, v in want.items():
                assert close(g["metrics"][m][k], v), (g["name"], m, k, g["metrics"][m][k], v)
    for m, cls in separation.items():
        assert close(got["separation"][m], eta2(frame, cls, m)), m
