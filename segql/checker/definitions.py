"""Traits and segments: each checked once, in dependency order, cycles reported."""

from __future__ import annotations

from collections.abc import Iterator

from segql.checker.context import _a, _boolean_hint, _Ctx, _describe, _place, _too_deep
from segql.core.diagnostics import (
    Diagnostic,
    SegqlError,
    Span,
)
from segql.core.types import Type
from segql.ir import dag
from segql.ir import nodes as ir
from segql.ir.definitions import definitions
from segql.lang import ast as a
from segql.lang.parser import parse


def _segment_root(ctx: _Ctx, tree: a.Expr) -> ir.TExpr | None:
    out = ctx.expr(tree)
    if out is not None and out.type not in (Type.BOOLEAN, Type.NULL):
        ctx.error(
            "not-boolean",
            f"a segment must be a condition (true or false), but {_describe(tree)} is "
            f"{_a(out.type)}",
            tree.span,
            *_boolean_hint(out.type),
        )
        return None
    return out


def _trait(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "trait", name, use)


def _segment(ctx: _Ctx, name: str, use: Span) -> ir.TExpr | None:
    return _definition(ctx, "segment", name, use)


def _definition(ctx: _Ctx, kind: str, name: str, use: Span) -> ir.TExpr | None:
    """A trait or segment, checked once (cached on the schema) after every definition it
    uses; its own diagnostics are reported where it is defined, and each use of a broken
    one is reported at the use."""
    schema = ctx.schema
    is_trait = kind == "trait"
    cache = definitions(schema).traits if is_trait else definitions(schema).segments
    if name in cache:
        return cache[name]
    if f"{kind}:{name}" not in ctx.broken:
        stack = ctx.trait_stack if is_trait else ctx.segment_stack
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
                else "a segment cannot contain itself, directly or through others",
            )
            return None
        _check_in_order(ctx, kind, name)
        if name in cache:
            return cache[name]
    if ctx.trait_stack or ctx.segment_stack or use.end:
        ctx.error(f"broken-{kind}", f"{kind} `{name}` has errors (reported above)", use)
    return None


def _check_in_order(ctx: _Ctx, kind: str, name: str) -> None:
    """Check a definition after the definitions it uses, depth first but without recursion:
    when one is checked, every definition it refers to is already cached or known broken
    (or on the current path: a cycle, reported at the reference that closes it). So a chain
    of any length takes a bounded amount of Python stack."""
    tstack = list(ctx.trait_stack)
    sstack = list(ctx.segment_stack)
    on_path = {f"trait:{n}" for n in tstack} | {f"segment:{n}" for n in sstack}
    frames: list[tuple[str, str, Iterator[tuple[str, str]]]] = []

    def enter(k: str, n: str) -> None:
        on_path.add(f"{k}:{n}")
        (tstack if k == "trait" else sstack).append(n)
        frames.append((k, n, iter(_references(ctx, k, n))))

    enter(kind, name)
    while frames:
        k, n, refs = frames[-1]
        nxt = next(refs, None)
        if nxt is None:
            frames.pop()
            _check_one(ctx, k, n, tstack, sstack)
            (tstack if k == "trait" else sstack).pop()
            on_path.discard(f"{k}:{n}")
            continue
        rk, rn = nxt
        key = f"{rk}:{rn}"
        done = definitions(ctx.schema).traits if rk == "trait" else definitions(ctx.schema).segments
        if rn in done or key in ctx.broken or key in on_path:
            continue
        enter(rk, rn)


def _parsed(ctx: _Ctx, kind: str, name: str) -> a.Expr | SegqlError:
    key = f"{kind}:{name}"
    got = ctx.parsed.get(key)
    if got is None:
        defn = ctx.schema.traits[name] if kind == "trait" else ctx.schema.segments[name]
        try:
            got = parse(defn.text, limits=ctx.limits)
        except SegqlError as e:
            got = e
        ctx.parsed[key] = got
    return got


def _references(ctx: _Ctx, kind: str, name: str) -> list[tuple[str, str]]:
    """The traits and segments a definition refers to (as the checker resolves names,
    outside event conditions), in source order."""
    tree = _parsed(ctx, kind, name)
    if isinstance(tree, SegqlError):
        return []
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
            case a.Name(parts=(only,)) if only not in schema.entity.fields:
                # inside an event condition, a stream's own field comes first (§5.3)
                if only in schema.traits and (own is None or only not in own):
                    out.append(("trait", only))
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


def _check_one(ctx: _Ctx, kind: str, name: str, tstack: list[str], sstack: list[str]) -> None:
    """Check one definition (``name`` on top of its stack), cache it or mark it broken."""
    schema = ctx.schema
    is_trait = kind == "trait"
    defn = schema.traits[name] if is_trait else schema.segments[name]
    local: list[Diagnostic] = []
    sub = _Ctx(
        schema=schema,
        diags=local,
        trait_stack=tstack,
        segment_stack=sstack,
        broken=ctx.broken,
        limits=ctx.limits,
        parsed=ctx.parsed,
        check_expr=ctx.check_expr,
    )
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
            problem = dag.cost_problem(
                out,
                ctx.limits,
                what=f"{kind} `{name}`",
                span=tree.span,
                traits=definitions(schema).traits,
            )
            if problem is not None:
                local.append(problem)
    ctx.diags.extend(_place(local, defn.where, defn.text, f"<{kind} {name}>"))
    if out is None or any(d.is_error for d in local):
        ctx.broken.add(f"{kind}:{name}")
    else:
        (definitions(schema).traits if is_trait else definitions(schema).segments)[name] = out
