"""Traits, segments and segmentations: each checked once, in dependency order, cycles
reported."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from segql.checker.context import _a, _boolean_hint, _Ctx, _describe, _place, _too_deep
from segql.core.diagnostics import (
    Diagnostic,
    SegqlError,
    Severity,
    Span,
)
from segql.core.schema import Schema
from segql.core.types import Type
from segql.ir import dag
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang import ast as a
from segql.lang.formatter import quote_name
from segql.lang.parser import parse


def _segment_root(ctx: _Ctx, tree: a.Expr, what: str = "a segment") -> ir.TExpr | None:
    out = ctx.expr(tree)
    if out is not None and out.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "not-boolean",
            f"{what} must be a condition (true or false), but {_describe(tree)} is {_a(out.type)}",
            tree.span,
            *_boolean_hint(out.type),
        )
        return None
    return out


def _trait(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "trait", name, use)


def _segment(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "segment", name, use)


def _segmentation(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "segmentation", name, use)


def _experiment(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "experiment", name, use)


KINDS = ("trait", "segment", "segmentation", "experiment")


def _cache(ctx: _Ctx, kind: str) -> dict[str, ir.TExpr]:
    defs = definitions(ctx.schema)
    return {
        "trait": defs.traits,
        "segment": defs.segments,
        "experiment": defs.experiments,
    }.get(kind, defs.segmentations)


def _stacks(ctx: _Ctx) -> dict[str, list[str]]:
    return {
        "trait": ctx.trait_stack,
        "segment": ctx.segment_stack,
        "segmentation": ctx.segmentation_stack,
        "experiment": ctx.experiment_stack,
    }


def _definition(ctx: _Ctx, kind: str, name: str, use: Span) -> ir.TExpr | None:
    """A trait, segment or segmentation, checked once (cached on the schema) after every
    definition it uses; its own diagnostics are reported where it is defined, and each use
    of a broken one is reported at the use."""
    is_trait = kind == "trait"
    cache = _cache(ctx, kind)
    if name in cache:
        return cache[name]
    if f"{kind}:{name}" not in ctx.broken:
        stack = _stacks(ctx)[kind]
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            shown = cycle if len(cycle) <= 10 else [*cycle[:4], "…", *cycle[-3:]]
            ctx.error(
                "cycle",
                f"{kind}s refer to each other in a cycle: "
                + " -> ".join(shown)
                + (f" ({len(cycle) - 1} in all)" if len(cycle) > 10 else ""),
                use,
                "break the cycle by writing one of them without the others"
                if is_trait
                else f"a {kind} cannot contain itself, directly or through others",
            )
            return None
        _check_in_order(ctx, kind, name)
        if name in cache:
            return cache[name]
    if any(_stacks(ctx).values()) or use.end:
        ctx.error(f"broken-{kind}", f"{kind} `{name}` has errors (reported above)", use)
    return None


def _check_in_order(ctx: _Ctx, kind: str, name: str) -> None:
    """Check a definition after the definitions it uses, depth first but without recursion:
    when one is checked, every definition it refers to is already cached or known broken
    (or on the current path: a cycle, reported at the reference that closes it). So a chain
    of any length takes a bounded amount of Python stack."""
    stacks = {k: list(v) for k, v in _stacks(ctx).items()}
    on_path = {f"{k}:{n}" for k, names in stacks.items() for n in names}
    frames: list[tuple[str, str, Iterator[tuple[str, str]]]] = []

    def enter(k: str, n: str) -> None:
        on_path.add(f"{k}:{n}")
        stacks[k].append(n)
        frames.append((k, n, iter(_references(ctx, k, n))))

    enter(kind, name)
    while frames:
        k, n, refs = frames[-1]
        nxt = next(refs, None)
        if nxt is None:
            frames.pop()
            _check_one(ctx, k, n, stacks)
            stacks[k].pop()
            on_path.discard(f"{k}:{n}")
            continue
        rk, rn = nxt
        key = f"{rk}:{rn}"
        if rn in _cache(ctx, rk) or key in ctx.broken or key in on_path:
            continue
        enter(rk, rn)


def _texts(ctx: _Ctx, kind: str, name: str) -> list[str]:
    """The expression texts of a definition (one per class of a segmentation)."""
    schema = ctx.schema
    if kind == "segmentation":
        return [c.text for c in schema.segmentations[name].classes]
    if kind == "experiment":
        ex = schema.experiments[name]
        return [audience_text(schema, ex.audience), ex.goal]
    return [schema.traits[name].text if kind == "trait" else schema.segments[name].text]


def audience_text(schema: Schema, text: str) -> str:
    """An audience may name a segment (CONTRACT §6.5: `audience: lapsed_vip`)."""
    plain = text.strip().strip("`")
    return f"in segment {quote_name(plain)}" if plain in schema.segments else text


def _parsed(ctx: _Ctx, kind: str, name: str, part: int = 0) -> a.Expr | SegqlError:
    key = f"{kind}:{name}:{part}"
    got = ctx.parsed.get(key)
    if got is None:
        try:
            got = parse(_texts(ctx, kind, name)[part], limits=ctx.limits)
        except SegqlError as e:
            got = e
        ctx.parsed[key] = got
    return got


def _references(ctx: _Ctx, kind: str, name: str) -> list[tuple[str, str]]:
    """The traits, segments and segmentations a definition refers to (as the checker
    resolves names, also inside event conditions), in source order."""
    out: list[tuple[str, str]] = []
    for part in range(len(_texts(ctx, kind, name))):
        tree = _parsed(ctx, kind, name, part)
        if not isinstance(tree, SegqlError):
            out += _references_in(ctx, tree)
    return out


def _references_in(ctx: _Ctx, tree: a.Expr) -> list[tuple[str, str]]:
    schema = ctx.schema
    out: list[tuple[str, str]] = []
    # (node, the fields of the stream whose event condition it is in, or None)
    stack: list[tuple[a.Expr, frozenset[str] | None]] = [(tree, None)]
    while stack:
        node, own = stack.pop()
        match node:
            case a.Name(parts=("contact", only)) if own is not None:
                if only in schema.traits and only not in schema.entity.fields:
                    out.append(("trait", only))
                elif only in schema.segmentations and only not in schema.entity.fields:
                    out.append(("segmentation", only))
                elif only in schema.experiments and only not in schema.entity.fields:
                    out.append(("experiment", only))
            case a.Name(parts=(only,)) if only not in schema.entity.fields:
                # inside an event condition, a stream's own field comes first (§5.3)
                if own is None or only not in own:
                    if only in schema.traits:
                        out.append(("trait", only))
                    elif only in schema.segmentations:
                        out.append(("segmentation", only))
                    elif only in schema.experiments:
                        out.append(("experiment", only))
            case a.InSegment(name=seg) if seg in schema.segments:
                out.append(("segment", seg))
            case a.Aggregate(target=t, where=w) | a.Has(stream=t, where=w):
                conds = [(w, t)]
                if isinstance(node, a.Has) and node.then is not None:
                    conds.append((node.then.where, node.then.stream))
                for cond, target in reversed(conds):
                    if cond is not None:
                        stream = schema.streams.get(target.parts[0])
                        fields = (
                            frozenset()
                            if stream is None
                            else frozenset([*stream.fields, stream.time])
                        )
                        stack.append((cond, fields))
            case _:
                stack.extend((c, own) for c in reversed(a.children(node)))
    return out


def _check_one(ctx: _Ctx, kind: str, name: str, stacks: dict[str, list[str]]) -> None:
    """Check one definition (``name`` on top of its stack), cache it or mark it broken."""
    if kind == "segmentation":
        _check_segmentation(ctx, name, stacks)
        return
    if kind == "experiment":
        _check_experiment(ctx, name, stacks)
        return
    schema = ctx.schema
    is_trait = kind == "trait"
    defn = schema.traits[name] if is_trait else schema.segments[name]
    local: list[Diagnostic] = []
    sub = _sub(ctx, local, stacks)
    out: ir.TExpr | None = None
    tree = _parsed(ctx, kind, name)
    if isinstance(tree, SegqlError):
        local.extend(tree.diagnostics)
    else:
        try:
            out = sub.expr(tree) if is_trait else _segment_root(sub, tree)
        except RecursionError:
            out = None
            local.append(_too_deep(tree.span, f"{kind} `{name}`"))
        if out is not None and not any(d.is_error for d in local):
            local += _cost(ctx, out, f"{kind} `{name}`", tree.span)
    ctx.diags.extend(_place(local, defn.where, defn.text, f"<{kind} {name}>"))
    if out is None or any(d.is_error for d in local):
        ctx.broken.add(f"{kind}:{name}")
    else:
        _cache(ctx, kind)[name] = out


def _sub(ctx: _Ctx, local: list[Diagnostic], stacks: dict[str, list[str]]) -> _Ctx:
    return _Ctx(
        schema=ctx.schema,
        diags=local,
        trait_stack=stacks["trait"],
        segment_stack=stacks["segment"],
        segmentation_stack=stacks["segmentation"],
        experiment_stack=stacks["experiment"],
        broken=ctx.broken,
        limits=ctx.limits,
        parsed=ctx.parsed,
        check_expr=ctx.check_expr,
    )


def _cost(ctx: _Ctx, out: ir.TExpr, what: str, span: Span) -> list[Diagnostic]:
    problem = dag.cost_problem(
        out, ctx.limits, what=what, span=span, traits=definitions(ctx.schema).traits
    )
    return [] if problem is None else [problem]


def _check_segmentation(ctx: _Ctx, name: str, stacks: dict[str, list[str]]) -> None:
    """Each class's condition, checked like a segment's, where it is written; classes that
    can never match (an earlier class is `true`, or the same condition) are warned about."""
    sg = ctx.schema.segmentations[name]
    conds: list[ir.TExpr] = []
    failed = False
    for i, cls in enumerate(sg.classes):
        local: list[Diagnostic] = []
        tree = _parsed(ctx, "segmentation", name, i)
        out: ir.TExpr | None = None
        if isinstance(tree, SegqlError):
            local.extend(tree.diagnostics)
        else:
            try:
                out = _segment_root(_sub(ctx, local, stacks), tree, what="a class")
            except RecursionError:
                local.append(_too_deep(tree.span, f"class `{cls.name}` of `{name}`"))
            if out is not None and not any(d.is_error for d in local):
                local += _cost(ctx, out, f"class `{cls.name}` of `{name}`", tree.span)
                covered = next(
                    (
                        sg.classes[j].name
                        for j, prev in enumerate(conds)
                        if prev == out or (isinstance(prev, ir.Lit) and prev.value is True)
                    ),
                    None,
                )
                if covered is not None:
                    local.append(
                        Diagnostic(
                            code="unreachable-class",
                            message=f"class `{cls.name}` of `{name}` can never match: every "
                            f"contact it would take is already in class `{covered}`",
                            span=tree.span,
                            hints=(
                                "a contact is in the first class that matches; reorder "
                                "the classes or remove this one",
                            ),
                            severity=Severity.WARNING,
                        )
                    )
        ctx.diags.extend(_place(local, cls.where, cls.text, f"<class {cls.name} of {name}>"))
        if out is None or any(d.is_error for d in local):
            failed = True
        else:
            conds.append(out)
    if not sg.classes:
        failed = True
    if failed:
        ctx.broken.add(f"segmentation:{name}")
        return
    definitions(ctx.schema).segmentations[name] = ir.Classify(
        conditions=tuple(conds),
        names=tuple(c.name for c in sg.classes),
        otherwise=sg.otherwise,
        segmentation=name,
    )


def _check_experiment(ctx: _Ctx, name: str, stacks: dict[str, list[str]]) -> None:
    """The audience (a condition, evaluated at the start) and the goal (a condition or a
    number); the arm is the first arm whose share of buckets holds the contact's
    ``bucket(salt)``, among the audience at the start (CONTRACT §6.5)."""
    ex = ctx.schema.experiments[name]
    parts: list[ir.TExpr | None] = []
    failed = False
    for i, (what, where, text) in enumerate(
        [
            ("the audience", ex.audience_where, ex.audience),
            ("the goal", ex.goal_where, ex.goal),
        ]
    ):
        local: list[Diagnostic] = []
        sub = _sub(ctx, local, stacks)
        tree = _parsed(ctx, "experiment", name, i)
        out: ir.TExpr | None = None
        if isinstance(tree, SegqlError):
            local.extend(tree.diagnostics)
        else:
            try:
                out = _segment_root(sub, tree, what=what) if i == 0 else sub.expr(tree)
            except RecursionError:
                local.append(_too_deep(tree.span, f"{what} of `{name}`"))
            if i == 1 and out is not None and not _goal_type(out.type):
                sub.error(
                    "not-boolean",
                    f"the goal of `{name}` must be a condition (a conversion) or a number "
                    f"(a mean), but {_describe(tree)} is {_a(out.type)}",
                    tree.span,
                    "e.g. `has orders` or `sum(orders.amount)`",
                )
                out = None
            if out is not None and not any(d.is_error for d in local):
                local += _cost(ctx, out, f"{what} of `{name}`", tree.span)
        written = _texts(ctx, "experiment", name)[i]
        if written != text:  # a segment's name, read as `in segment NAME`
            where, text = dataclasses.replace(where, offsets=None), written
        ctx.diags.extend(_place(local, where, text, f"<{what} of {name}>"))
        if out is None or any(d.is_error for d in local):
            failed = True
        parts.append(out)
    audience, goal = parts
    if failed or audience is None or goal is None:
        ctx.broken.add(f"experiment:{name}")
        return
    at = ir.AtTime(operand=audience, as_of=ex.start, type=Type.BOOLEAN)
    key = ctx.schema.entity.key
    declared = ctx.schema.entity.fields.get(key)
    bucket = ir.Func(
        func=ir.FuncName.BUCKET,
        args=(
            ir.Lit(value=ex.salt, type=Type.STRING),
            ir.Field(name=key, column=key, type=declared.type if declared else Type.INTEGER),
        ),
        type=Type.INTEGER,
    )
    conds = tuple(
        ir.BoolOp(
            op=a.BoolOpKind.AND,
            operands=(
                at,
                ir.Compare(
                    op=a.CmpOp.LT, left=bucket, right=ir.Lit(value=bound, type=Type.INTEGER)
                ),
            ),
        )
        for bound in ex.bounds()
    )
    defs = definitions(ctx.schema)
    defs.goals[name] = goal
    defs.experiments[name] = ir.Classify(
        conditions=conds,
        names=tuple(arm.name for arm in ex.arms),
        otherwise=None,
        segmentation=name,
    )


def _goal_type(t: Type) -> bool:
    return t in (Type.BOOLEAN, Type.NULL) or t.is_numeric
