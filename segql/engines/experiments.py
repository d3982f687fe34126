"""Experiments (CONTRACT §6.5): who is in which arm, and what each arm did.

The engine computes every arm's size and its goal's count, mean and sum of squares in one
statement (the profile's, over the arm as a class and the goal as a metric); the tests on
those numbers are scipy.stats' distributions, not hand-written ones:

- a conversion goal (a condition): the difference of rates with a 95% Wald interval
  (unpooled standard error) and a two-sided pooled two-proportion z-test;
- a numeric goal: the difference of means with a 95% Welch interval and Welch's t-test;
- the sample-ratio-mismatch check: a χ² goodness-of-fit test of the arms' sizes against
  their weights, flagged at p < 0.001.

Lift is the difference relative to the first arm (the control); its interval is the
difference's interval divided by the control's value (treating that as known)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import ExperimentDef, Schema
from segql.core.types import Type
from segql.ir import nodes as ir
from segql.ir import timecalc
from segql.ir.definitions import definitions

__all__ = ["SRM_ALPHA", "experiment", "plan", "result", "sample_size", "window_end"]

SRM_ALPHA = 0.001
CONFIDENCE = 0.95


def experiment(schema: Schema, name: str) -> tuple[ExperimentDef, ir.Classify, ir.TExpr]:
    """The experiment called ``name`` (a leading ``@`` is allowed), its arm and its goal."""
    import difflib

    plain = name[1:] if name.startswith("@") else name
    ex = schema.experiments.get(plain)
    if ex is None:
        close = difflib.get_close_matches(plain, list(schema.experiments), n=1)
        hints = [f"did you mean `{close[0]}`?"] if close else []
        if not schema.experiments:
            hints.append("declare one under `experiments:` in a catalog (docs/experiments.md)")
        raise EngineError(
            Diagnostic(
                code="unknown-name", message=f"unknown experiment `{plain}`", hints=tuple(hints)
            )
        )
    defs = definitions(schema)
    if plain not in defs.experiments:
        from segql.checker import check_schema

        check_schema(schema)
    arm = defs.experiments.get(plain)
    goal = defs.goals.get(plain)
    if not isinstance(arm, ir.Classify) or goal is None:
        raise EngineError(
            Diagnostic(
                code="broken-experiment",
                message=f"experiment `{plain}` has errors",
                hints=("`segql check` shows them",),
            )
        )
    return ex, arm, goal


def window_end(ex: ExperimentDef, tz: dt.tzinfo) -> dt.datetime:
    amount, unit = ex.window
    from segql.lang.ast import DurationUnit

    return timecalc.shift(ex.start, amount, DurationUnit(unit), tz)


def plan(
    schema: Schema, name: str, as_of: Any
) -> tuple[ExperimentDef, ir.Classify, ir.TExpr, dt.datetime, dt.datetime]:
    """The arm, the goal over ``(start, min(end, as_of)]``, that instant and the end."""
    ex, arm, goal = experiment(schema, name)
    at = timecalc.normalize_as_of(as_of)
    if at <= ex.start:
        raise EngineError(
            Diagnostic(
                code="bad-input",
                message=f"experiment `{ex.name}` starts at {_text(ex.start)}: there are no "
                f"results as of {_text(at)}",
                hints=("give a later --as-of",),
            )
        )
    end = window_end(ex, schema.tz)
    upto = min(at, end)
    kind = Type.BOOLEAN if goal.type in (Type.BOOLEAN, Type.NULL) else goal.type
    measured = ir.AtTime(operand=goal, as_of=upto, since=ex.start, type=kind)
    return ex, arm, measured, upto, end


def _text(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def result(
    ex: ExperimentDef,
    groups: list[dict[str, Any]],
    conversion: bool,
    upto: dt.datetime,
    end: dt.datetime,
) -> dict[str, Any]:
    """The JSON shape of `segql results` from the profile's groups (one per arm)."""
    from scipy import stats

    total_w = sum(float(a.weight) for a in ex.arms)
    arms: list[dict[str, Any]] = []
    for arm, g in zip(ex.arms, groups, strict=True):
        st = g["metrics"]["goal"]
        n = int(g["size"])
        row: dict[str, Any] = {
            "name": arm.name,
            "weight": float(arm.weight),
            "expected_share": float(arm.weight) / total_w,
            "size": n,
        }
        if conversion:
            rate = st["mean"]
            row["conversions"] = round(rate * n) if rate is not None else 0
            row["rate"] = rate
        else:
            row["count"] = st["count"]
            row["mean"] = st["mean"]
            row["std"] = st["std"]
        arms.append(row)
    audience = sum(a["size"] for a in arms)
    for a in arms:
        a["share"] = a["size"] / audience if audience else None
    warnings: list[dict[str, str]] = []
    control = arms[0]
    for a in arms:
        a.update(_compare(control, a, conversion, stats) if a is not control else _no_comparison())
    srm: dict[str, Any] = {"chi2": None, "p_value": None, "flagged": False}
    if audience:
        expected = [audience * a["expected_share"] for a in arms]
        chi2, p = stats.chisquare([a["size"] for a in arms], f_exp=expected)
        srm = {"chi2": float(chi2), "p_value": float(p), "flagged": bool(p < SRM_ALPHA)}
        if srm["flagged"]:
            warnings.append(
                {
                    "code": "sample-ratio-mismatch",
                    "message": "the arms' sizes do not match their weights (χ² p = "
                    f"{p:.2g} < {SRM_ALPHA}): the split or the data is broken, so the "
                    "comparison cannot be trusted",
                }
            )
    finished = upto >= end
    if not finished:
        warnings.append(
            {
                "code": "experiment-running",
                "message": f"the window ends at {_text(end)}; these results are provisional "
                "(deciding before the end inflates false positives)",
            }
        )
    small = [a["name"] for a in arms if a["size"] < 30]
    if small:
        warnings.append(
            {
                "code": "small-arm",
                "message": "too few contacts to compare in " + ", ".join(f"`{n}`" for n in small),
            }
        )
    return {
        "experiment": ex.name,
        "start": _text(ex.start),
        "end": _text(end),
        "as_of": _text(upto),
        "status": "finished" if finished else "running",
        "goal": ex.goal,
        "kind": "conversion" if conversion else "mean",
        "audience": audience,
        "arms": arms,
        "srm": srm,
        "warnings": warnings,
    }


def _no_comparison() -> dict[str, Any]:
    return dict.fromkeys(
        ("difference", "ci_low", "ci_high", "lift", "lift_low", "lift_high", "p_value")
    )


def _compare(c: dict[str, Any], t: dict[str, Any], conversion: bool, stats: Any) -> dict[str, Any]:
    """Arm ``t`` against the control ``c``."""
    out = _no_comparison()
    z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
    if conversion:
        n0, n1 = c["size"], t["size"]
        if not n0 or not n1:
            return out
        p0, p1 = c["conversions"] / n0, t["conversions"] / n1
        diff = p1 - p0
        se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
        lo, hi = diff - z * se, diff + z * se
        pooled = (c["conversions"] + t["conversions"]) / (n0 + n1)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
        p = 1.0 if se0 == 0 else float(2 * stats.norm.sf(abs(diff) / se0))
        base = p0
    else:
        n0, n1 = c["count"], t["count"]
        m0, m1, s0, s1 = c["mean"], t["mean"], c["std"], t["std"]
        if n0 < 2 or n1 < 2 or None in (m0, m1, s0, s1):
            return out
        diff = m1 - m0
        v0, v1 = s0 * s0 / n0, s1 * s1 / n1
        se = math.sqrt(v0 + v1)
        if se == 0:
            lo = hi = diff
            p = 1.0 if diff == 0 else 0.0
        else:
            df = (v0 + v1) ** 2 / (v0 * v0 / (n0 - 1) + v1 * v1 / (n1 - 1))
            q = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))
            lo, hi = diff - q * se, diff + q * se
            p = float(stats.ttest_ind_from_stats(m1, s1, n1, m0, s0, n0, equal_var=False).pvalue)
        base = m0
    out.update(difference=diff, ci_low=lo, ci_high=hi, p_value=p)
    if base:
        out.update(lift=diff / base, lift_low=lo / base, lift_high=hi / base)
    return out


def sample_size(baseline: float, lift: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Contacts per arm to detect a relative ``lift`` over a conversion rate ``baseline``
    with a two-sided test at ``alpha`` and the given power (normal approximation of the
    two-proportion z-test, unpooled variances)."""
    from scipy import stats

    if not 0 < baseline < 1:
        raise EngineError(
            Diagnostic(code="bad-input", message="the baseline rate must be between 0 and 1")
        )
    p1 = baseline * (1 + lift)
    if lift == 0 or not 0 < p1 < 1:
        raise EngineError(
            Diagnostic(
                code="bad-input",
                message="the lift must be non-zero and keep the rate between 0 and 1",
                hints=("a lift of 0.1 is +10% relative to the baseline",),
            )
        )
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise EngineError(
            Diagnostic(code="bad-input", message="alpha and power must be between 0 and 1")
        )
    za = float(stats.norm.ppf(1 - alpha / 2))
    zb = float(stats.norm.ppf(power))
    var = baseline * (1 - baseline) + p1 * (1 - p1)
    return math.ceil((za + zb) ** 2 * var / (p1 - baseline) ** 2)
