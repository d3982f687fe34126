"""Profiles of segments and classes (CONTRACT §6.3): per group its size and share, and per
metric count, nulls, mean, sample standard deviation, min, p10, median, p90 and max; per
segmentation the share of each metric's variance its classes explain (η²).

Everything is computed by the engine in one statement over the membership query (the
members are never pulled into Python), the same SQL on every dialect: quantiles are
continuous (linear interpolation at position ``(n - 1) × p``) from ``ROW_NUMBER()``, since
not every engine has a quantile aggregate (SQLite) and those that do differ; sums of
squares are taken around each group's mean (two passes), not from ``Σx²``, so nearly
constant metrics keep their precision. All in double precision."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from segql.backends.sql.dialects import Profile
from segql.core.diagnostics import Diagnostic, EngineError
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import nodes as ir

__all__ = ["Metric", "Target", "metrics_of", "profile_query", "profile_result", "targets_of"]

STATS = ("count", "nulls", "mean", "std", "min", "p10", "median", "p90", "max")
_TENTHS = {"p10": 1, "median": 5, "p90": 9}
MAX_CLASSES = 12  # more classes than a marketer can act on (CONTRACT §6.3)
SMALL_SHARE = 0.01
SMALL_SIZE = 100
SEPARATING = 0.2  # an η² worth acting on


@dataclass(frozen=True, slots=True)
class Target:
    """What to profile: a segment or expression (one group: its members) or a
    segmentation (one group per class)."""

    label: str
    value: ir.TExpr  # a boolean that is never null, or a Classify
    classes: tuple[str, ...] = ()  # a segmentation's, in order

    @property
    def is_segmentation(self) -> bool:
        return isinstance(self.value, ir.Classify)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    value: ir.TExpr


def targets_of(schema: Schema, specs: Sequence[str]) -> list[Target]:
    """``@segment``, ``@segmentation`` or an expression, each a target."""
    from segql.checker import typed
    from segql.engines.selection import membership_values

    out: list[Target] = []
    for spec in specs:
        text = spec.strip()
        if text.startswith("@"):
            ((name, value),) = membership_values(schema, [text])
            classes = ()
            if isinstance(value, ir.Classify):
                classes = (*value.names, *(() if value.otherwise is None else (value.otherwise,)))
            out.append(Target(label=name, value=value, classes=classes))
        else:
            cond = typed(text, schema)
            out.append(Target(label=text, value=ir.IsTrue(operand=cond, segment=text)))
    if not out:
        raise EngineError(
            Diagnostic(
                code="bad-fields",
                message="nothing to profile",
                hints=("give @segment, @segmentation or an expression",),
            )
        )
    return out


def metrics_of(schema: Schema, specs: Sequence[str]) -> list[Metric]:
    """Numeric value expressions, each ``EXPR`` or ``EXPR as NAME`` (named by its text)."""
    from segql.checker import typed
    from segql.engines.selection import _AS

    out: list[Metric] = []
    problems: list[Diagnostic] = []
    for spec in specs:
        m = _AS.match(spec)
        text, name = (m.group("expr"), m.group("name").strip("`")) if m else (spec, spec)
        value = typed(text, schema, value=True)
        if not (value.type.is_numeric or value.type is Type.NULL):
            problems.append(
                Diagnostic(
                    code="type-mismatch",
                    message=f"metric `{name}` must be a number, but it is {value.type}",
                    hints=(
                        "profile numbers: counts, sums, averages, `days_since(last_order)`; "
                        "for a yes/no value use a segment",
                    ),
                )
            )
            continue
        if any(x.name == name for x in out):
            problems.append(Diagnostic(code="bad-fields", message=f"metric `{name}` is twice"))
            continue
        out.append(Metric(name=name, value=value))
    if problems:
        raise EngineError(problems)
    if not out:
        raise EngineError(
            Diagnostic(
                code="bad-fields",
                message="no metrics to profile",
                hints=('give metrics, e.g. --metrics "total_spent, purchases"',),
            )
        )
    return out


def membership_columns(
    targets: Sequence[Target], metrics: Sequence[Metric]
) -> list[tuple[str, ir.TExpr]]:
    """The values the membership query returns beside the key: g0…, then x0…."""
    return [
        *((f"g{i}", t.value) for i, t in enumerate(targets)),
        *((f"x{j}", m.value) for j, m in enumerate(metrics)),
    ]


def profile_query(
    profile: Profile, inner: Any, targets: Sequence[Target], metrics: Sequence[Metric]
) -> Any:
    """One statement over ``inner`` (key, g…, x…): rows of ``t, c, j, size, count, mean,
    min, max, ss, p10, median, p90`` per target t (the last, t = len(targets), is every
    contact), class c ('' for a segment) and metric j."""
    from sqlglot import exp

    lit = exp.Literal.number

    def col(name: str, table: str) -> Any:
        return exp.column(name, table=table, quoted=True)

    def numbers(name: str, n: int) -> Any:
        q: Any = exp.select(exp.alias_(lit(0), name, quoted=True))
        for i in range(1, n):
            q = exp.union(q, exp.select(exp.alias_(lit(i), name, quoted=True)), distinct=False)
        return q

    def aliased(source: Any, alias: str) -> Any:
        """A CTE (by its name) or a query, as ``alias``."""
        if isinstance(source, str):
            table = exp.Table(this=exp.to_identifier(source, quoted=True))
            return exp.alias_(table, alias, table=True, quoted=True)
        return exp.alias_(exp.Subquery(this=source), alias, table=True, quoted=True)

    t_of, j_of = col("t", "k"), col("j", "mm")

    def target(i: int) -> Any:
        return exp.EQ(this=t_of.copy(), expression=lit(i))

    member = []
    classes = []
    for i, tg in enumerate(targets):
        g = col(f"g{i}", "m")
        if tg.is_segmentation:
            member.append(exp.and_(target(i), g.is_(exp.null()).not_()))
            classes.append(exp.If(this=target(i), true=g.copy()))
        else:
            member.append(exp.and_(target(i), g))
    member.append(target(len(targets)))  # every contact
    c = (
        exp.Coalesce(this=exp.Case(ifs=classes), expressions=[exp.Literal.string("")])
        if classes
        else exp.Literal.string("")
    )

    def value(j: int) -> Any:
        """A metric's value; a condition (an experiment's conversion) counts 1 when
        true, else 0 (unknown included, as for membership)."""
        x = col(f"x{j}", "m")
        if metrics[j].value.type is Type.BOOLEAN:
            return exp.Case(ifs=[exp.If(this=x, true=lit(1))], default=lit(0))
        return x

    x = exp.Case(
        ifs=[
            exp.If(this=exp.EQ(this=j_of.copy(), expression=lit(j)), true=value(j))
            for j in range(len(metrics))
        ]
    )
    u = (
        exp.select(
            exp.alias_(t_of.copy(), "t", quoted=True),
            exp.alias_(c, "c", quoted=True),
            exp.alias_(j_of.copy(), "j", quoted=True),
            exp.alias_(profile.to_double(x), "x", quoted=True),
        )
        .from_(aliased(inner, "m"))
        .join(
            aliased(numbers("t", len(targets) + 1), "k"),
            join_type="CROSS",
        )
        .join(
            aliased(numbers("j", len(metrics)), "mm"),
            join_type="CROSS",
        )
        .where(exp.or_(*(exp.Paren(this=p) for p in member)))
    )
    keys = ("t", "c", "j")

    def on(a: str, b: str) -> Any:
        return exp.and_(*(exp.EQ(this=col(k, a), expression=col(k, b)) for k in keys))

    xs = col("x", "u")
    s = exp.select(
        *(col(k, "u") for k in keys),
        exp.alias_(exp.Count(this=exp.Star()), "size", quoted=True),
        exp.alias_(exp.Count(this=xs.copy()), "n", quoted=True),
        exp.alias_(exp.Avg(this=xs.copy()), "mean", quoted=True),
        exp.alias_(exp.Min(this=xs.copy()), "lo", quoted=True),
        exp.alias_(exp.Max(this=xs.copy()), "hi", quoted=True),
    ).from_(aliased("segql_u", "u"))
    s = s.group_by(*(col(k, "u") for k in keys))
    rank = exp.Sub(
        this=exp.Window(
            this=exp.Anonymous(this="ROW_NUMBER"),
            partition_by=[col(k, "u") for k in keys],
            order=exp.Order(expressions=[exp.Ordered(this=xs.copy())]),
        ),
        expression=lit(1),
    )
    r = (
        exp.select(
            *(col(k, "u") for k in keys),
            xs.copy(),
            exp.alias_(rank, "r", quoted=True),
            col("n", "s"),
            col("mean", "s"),
        )
        .from_(aliased("segql_u", "u"))
        .join(
            aliased("segql_s", "s"),
            on=on("u", "s"),
        )
        .where(xs.copy().is_(exp.null()).not_())
    )
    rx, rr, rn = col("x", "r"), col("r", "r"), col("n", "r")
    dev = exp.Sub(this=rx.copy(), expression=col("mean", "r"))
    aggs: list[Any] = [
        exp.alias_(
            exp.Sum(this=exp.Mul(this=exp.Paren(this=dev), expression=exp.Paren(this=dev.copy()))),
            "ss",
            quoted=True,
        )
    ]
    for name, tenths in _TENTHS.items():
        # position (n - 1) × p, exact for whole tenths; the rows either side, weighted
        pos = exp.Div(
            this=exp.Mul(
                this=profile.to_double(exp.Sub(this=rn.copy(), expression=lit(1))),
                expression=lit(tenths),
            ),
            expression=lit(10),
        )
        r_dbl = profile.to_double(rr.copy())
        lower = exp.and_(
            exp.LTE(this=r_dbl.copy(), expression=pos.copy()),
            exp.LT(this=pos.copy(), expression=exp.Add(this=r_dbl.copy(), expression=lit(1))),
        )
        upper = exp.and_(
            exp.LTE(this=exp.Sub(this=r_dbl.copy(), expression=lit(1)), expression=pos.copy()),
            exp.LT(this=pos.copy(), expression=r_dbl.copy()),
        )
        w_lower = exp.Sub(
            this=lit(1),
            expression=exp.Paren(this=exp.Sub(this=pos.copy(), expression=r_dbl.copy())),
        )
        w_upper = exp.Sub(
            this=pos.copy(),
            expression=exp.Paren(this=exp.Sub(this=r_dbl.copy(), expression=lit(1))),
        )
        weighted = exp.Case(
            ifs=[
                exp.If(
                    this=lower, true=exp.Mul(this=rx.copy(), expression=exp.Paren(this=w_lower))
                ),
                exp.If(
                    this=upper, true=exp.Mul(this=rx.copy(), expression=exp.Paren(this=w_upper))
                ),
            ],
            default=profile.to_double(lit(0)),
        )
        aggs.append(exp.alias_(exp.Sum(this=weighted), name, quoted=True))
    q = (
        exp.select(*(col(k, "r") for k in keys), *aggs)
        .from_(aliased("segql_r", "r"))
        .group_by(*(col(k, "r") for k in keys))
    )
    final = (
        exp.select(
            *(col(k, "s") for k in keys),
            *(col(n, "s") for n in ("size", "n", "mean", "lo", "hi")),
            *(col(n, "q") for n in ("ss", *_TENTHS)),
        )
        .from_(aliased("segql_s", "s"))
        .join(
            aliased("segql_q", "q"),
            on=on("s", "q"),
            join_type="LEFT",
        )
    )
    fence = True if profile.caps.materialized_ctes else None
    for alias, cte in (("segql_u", u), ("segql_s", s), ("segql_r", r), ("segql_q", q)):
        final = final.with_(
            exp.to_identifier(alias, quoted=True),
            as_=cte,
            materialized=fence if alias == "segql_u" else None,
        )
    return final


def profile_result(
    rows: Sequence[Sequence[Any]],
    targets: Sequence[Target],
    metrics: Sequence[Metric],
    as_of: str,
) -> dict[str, Any]:
    """The JSON shape of `segql profile` from the rows of :func:`profile_query`."""
    by: dict[tuple[int, str], dict[int, dict[str, Any]]] = {}
    sizes: dict[tuple[int, str], int] = {}
    for t, c, j, size, n, mean, lo, hi, ss, p10, p50, p90 in rows:
        key = (int(t), str(c))
        sizes[key] = int(size)
        n = int(n)
        std = math.sqrt(float(ss) / (n - 1)) if n > 1 and ss is not None else None
        by.setdefault(key, {})[int(j)] = {
            "count": n,
            "nulls": int(size) - n,
            "mean": _f(mean) if n else None,
            "std": std,
            "min": _f(lo) if n else None,
            "p10": _f(p10) if n else None,
            "median": _f(p50) if n else None,
            "p90": _f(p90) if n else None,
            "max": _f(hi) if n else None,
            "_ss": float(ss) if ss is not None else 0.0,
        }
    population = sizes.get((len(targets), ""), 0)
    groups: list[dict[str, Any]] = []
    separation: dict[str, dict[str, float | None]] = {}
    warnings: list[dict[str, str]] = []
    several = len(targets) > 1
    for i, tg in enumerate(targets):
        names = tg.classes if tg.is_segmentation else ("",)
        for cls in names:
            size = sizes.get((i, cls), 0)
            stats = by.get((i, cls), {})
            label = (
                tg.label if not tg.is_segmentation else (f"{tg.label} = {cls}" if several else cls)
            )
            groups.append(
                {
                    "name": label,
                    "size": size,
                    "share": size / population if population else None,
                    "metrics": {m.name: _public(stats.get(j)) for j, m in enumerate(metrics)},
                }
            )
            if (
                tg.is_segmentation
                and population
                and (size < SMALL_SIZE or size / population < SMALL_SHARE)
            ):
                warnings.append(
                    _warning(
                        "small-class",
                        f"class `{cls}` of `{tg.label}` has {size:,} contacts "
                        f"({100 * size / population:.1f}%): too few to act on or to trust "
                        "its averages",
                    )
                )
        if tg.is_segmentation:
            etas = {
                m.name: _eta2([by.get((i, cls), {}).get(j) for cls in names])
                for j, m in enumerate(metrics)
            }
            separation[tg.label] = etas
            if len(names) > MAX_CLASSES:
                warnings.append(
                    _warning(
                        "many-classes",
                        f"`{tg.label}` has {len(names)} classes; more than {MAX_CLASSES} are "
                        "hard to act on",
                    )
                )
            if not any(v is not None and v >= SEPARATING for v in etas.values()):
                warnings.append(
                    _warning(
                        "weak-separation",
                        f"the classes of `{tg.label}` explain less than "
                        f"{SEPARATING:.0%} of the variance of every metric: they barely differ "
                        "on what was measured",
                    )
                )
    out: dict[str, Any] = {"as_of": as_of, "population": population, "groups": groups}
    if len(separation) == 1 and not several:
        out["separation"] = next(iter(separation.values()))
    else:
        out["separation"] = separation
    out["warnings"] = warnings
    return out


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _public(stats: dict[str, Any] | None) -> dict[str, Any]:
    if stats is None:
        return {k: (0 if k in ("count", "nulls") else None) for k in STATS}
    return {k: stats[k] for k in STATS}


def _eta2(groups: Sequence[dict[str, Any] | None]) -> float | None:
    """Between-class over total sum of squares, over the contacts with a value."""
    present = [g for g in groups if g is not None and g["count"]]
    n = sum(g["count"] for g in present)
    if n == 0:
        return None
    grand = sum(g["count"] * g["mean"] for g in present) / n
    between = sum(g["count"] * (g["mean"] - grand) ** 2 for g in present)
    total = between + sum(g["_ss"] for g in present)
    return None if total <= 0 else between / total


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def as_of_text(as_of: Any) -> str:
    """The instant a result is for, as ISO 8601 UTC (``…Z``)."""
    from segql.ir.timecalc import normalize_as_of

    return normalize_as_of(as_of).isoformat().replace("+00:00", "Z")


def verdict(eta2: float | None) -> str:
    """How well classes separate a metric, in words (docs/analytics.md): strong from 0.5,
    useful from 0.2 (the contract's threshold), else weak."""
    if eta2 is None:
        return "no variance"
    if eta2 >= 0.5:
        return "strong"
    if eta2 >= SEPARATING:
        return "useful"
    return "weak"
