"""Context-aware completion: what may come next at the cursor, by asking the grammar
(:mod:`segql.tools.repl.prefix`), the schema and the function table."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from segql.core.types import Type
from segql.ir.definitions import definitions
from segql.lang.formatter import quote_name, quote_string
from segql.lang.functions import FUNCTIONS, FunctionKind
from segql.tools.repl.prefix import accepts, lex_all, replay, terms
from segql.tools.repl.session import COMMANDS, texpr_type

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completer

    from segql.core.schema import Schema, Stream


# ---------------------------------------------------------------------------------------
# Completion
# ---------------------------------------------------------------------------------------


class Candidate(NamedTuple):
    """One completion: the text inserted (replacing the word being typed) and a note."""

    text: str
    meta: str = ""


_TABLE = tuple(FUNCTIONS.values())
_AGGS = tuple(f.name for f in _TABLE if f.kind is FunctionKind.AGGREGATE)
# Aggregates over a field: `f(stream.field …)` (the others take the stream itself).
_FIELD_AGGS = tuple(f.name for f in _TABLE if f.name in _AGGS and ".field" in f.signature)
_FUNCS = tuple(f.name for f in _TABLE if f.kind is FunctionKind.SCALAR)
_POPULATION = tuple(f.name for f in _TABLE if f.kind is FunctionKind.POPULATION)
_CHANNEL_FUNCS = tuple(f.name for f in _TABLE if f.kind is FunctionKind.CHANNEL)
_NUMERIC_FUNCS = tuple(f.name for f in _TABLE if f.completion == "number")
_NUMERIC_FUNCS = (
    "length", "abs", "round", "floor", "ceil", "year", "month", "day", "weekday",
    "days_since", "days_until_anniversary", "percentile", "count", "count_distinct",
)  # fmt: skip
UNITS: tuple[tuple[str, str], ...] = (
    ("d", "days"), ("w", "weeks"), ("mo", "months"), ("y", "years"),
    ("h", "hours"), ("min", "minutes"), ("s", "seconds"),
)  # fmt: skip

# Operators offered after a complete operand, by the operand's kind. Each is offered only
# where the parser accepts it.
_PRED_OPS = (
    "=", "!=", "<", "<=", ">", ">=", "between ", "in [", "not in [", "is null",
    "is not null", "contains ", "not contains ", "starts with ", "ends with ", "within ",
)  # fmt: skip
_OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "number": ("=", "!=", "<", "<=", ">", ">=", "between ", "in [", "not in [", "is null",
               "is not null"),
    "string": ("=", "!=", "in [", "not in [", "contains ", "not contains ", "starts with ",
               "ends with ", "is null", "is not null"),
    "boolean": ("=", "!=", "is null", "is not null"),
    "time": ("<", "<=", ">", ">=", "within ", "between ", "=", "!=", "is null",
             "is not null"),
    "list": ("contains ", "contains any [", "contains all [", "not contains ", "is null",
             "is not null"),
    "duration": ("ago",),
    "stream": ("where ", "within ", ")"),
    "condition": (),
    "segment": (),
}  # fmt: skip
_TAIL = (
    "and ", "or ", "where ", "within ", "followed by ", "not followed by ", "ago", ")", "]",
    "by ",
)  # fmt: skip
_OP_META = {
    "between ": "x between a and b (inclusive)",
    "in [": "one of a list",
    "not in [": "none of a list",
    "within ": "time within a duration of as-of",
    "ago": "the time that long before as-of",
    "where ": "a condition on each event",
    "followed by ": "a later event of a stream (a sequence)",
    "not followed by ": "no later event of a stream (a sequence)",
    "by ": "the value to rank by",
}


# The kind of value each function gives; "any" (coalesce, min, max) takes its argument's.
_FUNC_KINDS: dict[str, str] = {f.name: f.completion for f in _TABLE if f.completion != "any"}


def _kind(t: Type | str | None) -> str | None:
    if t is None or isinstance(t, str):
        return t
    if t.is_numeric:
        return "number"
    if t.is_temporal:
        return "time"
    if t.is_list:
        return "list"
    return {Type.STRING: "string", Type.BOOLEAN: "boolean", Type.DURATION: "duration"}.get(t)


def ident(tok: Any) -> str:
    v = str(tok.value)
    if tok.type == "QUOTED_NAME":
        return v[1:-1].replace("``", "`")
    return v


@dataclasses.dataclass
class _Frame:
    paren: bool  # a parenthesis (popped by `)`); else a bare `has E where` condition
    stream: str | None  # the event stream whose fields are in scope
    agg: str | None = None  # the aggregate function whose `(` this is
    agg_stream: str | None = None
    betweens: int = 0  # `between`s waiting for their `and`
    prior: str | None = None  # after `followed by`: the earlier event's stream (`A.f`)


class _Context:
    """What the tokens before the cursor say about the place being completed."""

    def __init__(self, toks: list[Any], schema: Schema) -> None:
        self.toks = toks
        self.schema = schema
        frames = [_Frame(False, None)]
        for i, t in enumerate(toks):
            prev = toks[i - 1] if i else None
            top = frames[-1]
            kind = t.type
            if kind == "LPAR":
                if prev is not None and prev.type == "NAME" and prev.value.lower() in _AGGS:
                    frames.append(_Frame(True, None, agg=prev.value.lower()))
                else:
                    frames.append(_Frame(True, top.stream))
            elif kind in ("RPAR", "COMMA"):
                while len(frames) > 1 and not frames[-1].paren:
                    frames.pop()
                if kind == "RPAR" and len(frames) > 1:
                    frames.pop()
            elif kind in ("NAME", "QUOTED_NAME"):
                if top.agg and top.agg_stream is None and prev is not None and prev.type == "LPAR":
                    top.agg_stream = ident(t)
            elif kind == "_WHERE":
                if top.agg and top.stream is None:
                    top.stream = top.agg_stream
                elif i >= 2 and toks[i - 2].type == "HAS":
                    frames.append(_Frame(False, ident(toks[i - 1])))
                elif i >= 3 and toks[i - 2].type == "_BY" and toks[i - 3].type in _FOLLOWED:
                    frames.append(_Frame(False, ident(toks[i - 1]), prior=_has_stream(toks, i)))
            elif kind in _FOLLOWED and not top.paren and len(frames) > 1:
                frames.pop()  # the end of the earlier event's condition
            elif kind == "_BETWEEN":
                top.betweens += 1
            elif kind == "_AND" and top.betweens:
                top.betweens -= 1
            elif kind in ("_AND", "_OR", "_WITHIN") and not top.paren and len(frames) > 1:
                frames.pop()
        self.frame = frames[-1]
        self.stream: Stream | None = (
            schema.streams.get(self.frame.stream) if self.frame.stream else None
        )
        self.prev = toks[-1] if toks else None

    # --- names and their types --------------------------------------------------------
    def name_type(self, name: str) -> Type | None:
        if self.stream is not None:
            f = self.stream.fields.get(name)
            if f is not None:
                return f.type
            return Type.TIMESTAMP if name == self.stream.time else None
        f = self.schema.entity.fields.get(name)
        if f is not None:
            return f.type
        if name in self.schema.segmentations or name in self.schema.experiments:
            return Type.STRING
        return texpr_type(definitions(self.schema).traits.get(name))

    def values_of(self, name: str) -> tuple[str, ...] | None:
        fields = self.stream.fields if self.stream is not None else self.schema.entity.fields
        f = fields.get(name)
        if f is None and name in self.schema.segmentations:
            return self.schema.segmentations[name].values  # its class names
        if f is None and name in self.schema.experiments:
            return tuple(arm.name for arm in self.schema.experiments[name].arms)
        return f.values if f is not None else None

    def operand_type(self, toks: list[Any]) -> Type | str | None:
        """The type (or "stream") of the complete operand that ``toks`` ends with."""
        if not toks:
            return None
        last = toks[-1]
        kind = last.type
        before = toks[-2] if len(toks) >= 2 else None
        if kind == "DURATION" and before is not None and before.type == "_WITHIN":
            return "condition"  # `x within D`, `has E within D`: a whole condition
        if kind in ("NAME", "QUOTED_NAME"):
            if before is not None and before.type == "HAS":
                return "condition"
            if before is not None and before.type == "SEGMENT":
                return "segment"
            if (
                before is not None
                and before.type == "LPAR"
                and len(toks) >= 3
                and toks[-3].type == "NAME"
                and toks[-3].value.lower() in _AGGS
            ):
                return "stream"
            if before is not None and before.type == "DOT" and len(toks) >= 3:
                st = self.schema.streams.get(ident(toks[-3]))
                f = st.fields.get(ident(last)) if st is not None else None
                return f.type if f is not None else None
            return self.name_type(ident(last))
        if kind == "RPAR":
            depth = 0
            for j in range(len(toks) - 1, -1, -1):
                depth += {"RPAR": 1, "LPAR": -1}.get(toks[j].type, 0)
                if depth == 0:
                    break
            else:
                return None
            if j == 0 or toks[j - 1].type != "NAME":
                return None
            func = toks[j - 1].value.lower()
            if func in ("first", "last"):
                return Type.TIMESTAMP
            if func in ("lower", "upper", "trim"):
                return Type.STRING
            if func in ("min", "max") and j + 3 < len(toks) and toks[j + 2].type == "DOT":
                st = self.schema.streams.get(ident(toks[j + 1]))
                fname = ident(toks[j + 3])
                if st is not None and fname == st.time:
                    return Type.TIMESTAMP
                f = st.fields.get(fname) if st is not None else None
                return f.type if f is not None else None
            if func in (*_NUMERIC_FUNCS, "sum", "avg", "median"):
                return Type.DECIMAL
            return None
        return {
            "INT": Type.INTEGER,
            "DECIMAL": Type.DECIMAL,
            "STRING": Type.STRING,
            "DATE": Type.DATE,
            "TIMESTAMP": Type.TIMESTAMP,
            "DURATION": Type.DURATION,
            "NOW": Type.TIMESTAMP,
            "TODAY": Type.TIMESTAMP,
            "AGO": Type.TIMESTAMP,
            "TRUE": Type.BOOLEAN,
            "FALSE": Type.BOOLEAN,
        }.get(kind)

    def value_target(self) -> str | None:
        """The field a value is being typed for: `f =`, `f !=`, `f in [`, `f in ['a', `."""
        toks = self.toks
        i = len(toks) - 1
        while i >= 0 and toks[i].type in ("STRING", "COMMA"):
            i -= 1
        if i >= 1 and toks[i].type in ("LSQB", "LPAR") and toks[i - 1].type == "IN":
            i -= 2
            if i >= 0 and toks[i].type == "NOT":
                i -= 1
        elif i == len(toks) - 1 and i >= 1 and toks[i].value in ("=", "!="):
            i -= 1
        else:
            return None
        if i < 0 or toks[i].type not in ("NAME", "QUOTED_NAME"):
            return None
        if i >= 1 and toks[i - 1].type in ("DOT", "HAS", "SEGMENT"):
            return None
        return ident(toks[i])


_FOLLOWED = ("FOLLOWED", "NOT_FOLLOWED")


def _has_stream(toks: list[Any], end: int) -> str | None:
    """The stream of the nearest `has` before ``end`` (the A of `has A … followed by`)."""
    for j in range(end - 1, 0, -1):
        if toks[j - 1].type == "HAS":
            return ident(toks[j])
    return None


def complete(text: str, schema: Schema) -> tuple[str, list[Candidate]]:
    """(the word being replaced, matching candidates) for the text before the cursor."""
    if text.lstrip().startswith(":"):
        return _complete_meta(text.lstrip())
    word = _current_word(text)
    before = text[: len(text) - len(word)]
    toks, fail = lex_all(before)
    if fail is not None:
        return word, []
    cands = _candidates(word, toks, schema)
    return word, [c for c in _dedupe(cands) if _matches(word, c.text)]


def _current_word(text: str) -> str:
    _, fail = lex_all(text)
    if fail is not None and text[fail] in "'\"`" and "\n" not in text[fail:]:
        return text[fail:]  # an unfinished string or quoted name
    m = re.search(r"[A-Za-z0-9_.]*\Z", text)
    return m.group(0) if m else ""


def _matches(word: str, cand: str) -> bool:
    w = word.lstrip("`'\"").lower()
    return cand.lstrip("`'\"").lower().startswith(w) and cand.rstrip() != word


def _dedupe(cands: Iterable[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    out = []
    for c in cands:
        if c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def _field_meta(t: Type, values: tuple[str, ...] | None) -> str:
    return f"{t}: {', '.join(values)}" if values else str(t)


def _candidates(word: str, toks: list[Any], schema: Schema) -> list[Candidate]:
    stack = replay(toks)
    if stack is None:
        return []
    ctx = _Context(toks, schema)
    prev = ctx.prev
    prev_type = prev.type if prev is not None else None

    # A number being typed: duration units (or `% by` after `top`).
    m = re.fullmatch(r"(\d+(?:_\d+)*)([a-z]*)", word)
    if m:
        if prev_type == "TOP":
            return [Candidate(f"{m.group(1)}% by ", "top N% by x")]
        lhs = ctx.operand_type(toks[:-1]) if _is_operator(prev) else None
        if _kind(lhs) in ("number", "string", "boolean"):
            return []
        return [Candidate(m.group(1) + u, meta) for u, meta in UNITS]

    # Streams after `has`, `followed by` and inside an aggregate's parentheses.
    if prev_type == "HAS" or (prev_type == "_BY" and len(toks) >= 2 and toks[-2].type in _FOLLOWED):
        return [Candidate(quote_name(n), f"event stream: {len(s.fields)} fields")
                for n, s in schema.streams.items()]  # fmt: skip
    if prev_type == "LPAR" and len(toks) >= 2 and toks[-2].type == "NAME":
        func = toks[-2].value.lower()
        if func in _CHANNEL_FUNCS:  # reachable_by('…'): the schema's channels
            return [Candidate(quote_string(n), f"channel: {c.address}, if {c.consent}")
                    for n, c in schema.channels.items()]  # fmt: skip
        if func in _FIELD_AGGS:
            return _stream_fields(schema, func)
        if func in _AGGS:
            return [Candidate(quote_name(n), "event stream") for n in schema.streams]
    if prev_type == "SEGMENT":
        return [Candidate(quote_name(n), s.description or "segment")
                for n, s in schema.segments.items()]  # fmt: skip
    if prev_type == "TOP":
        return []

    if accepts(stack, ("NAME",)):
        return _value_candidates(ctx, stack, toks)
    return _operator_candidates(ctx, stack, toks)


def _is_operator(tok: Any) -> bool:
    return tok is not None and (
        tok.value in ("=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%")
        or tok.type == "_BETWEEN"
    )


def _stream_fields(schema: Schema, func: str) -> list[Candidate]:
    out = []
    for sname, st in schema.streams.items():
        fields = [(n, f.type) for n, f in st.fields.items()]
        if func in ("min", "max"):
            fields.append((st.time, Type.TIMESTAMP))
        for fname, t in fields:
            if func in ("sum", "avg", "median") and not t.is_numeric:
                continue
            if func in ("min", "max") and (t.is_list or t is Type.BOOLEAN):
                continue
            if func == "count_distinct" and t.is_list:
                continue
            out.append(Candidate(f"{quote_name(sname)}.{quote_name(fname)}", str(t)))
    return out


def _compatible(a: Type | str | None, b: Type | str | None) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka is None or kb is None:
        return True
    if ka == "time" and kb == "duration":
        return True
    return ka == kb


def _value_candidates(ctx: _Context, stack: list[Any], toks: list[Any]) -> list[Candidate]:
    schema = ctx.schema
    target = ctx.value_target()
    if target is not None:
        values = ctx.values_of(target)
        if values:
            return [Candidate(quote_string(v), f"a value of {quote_name(target)}") for v in values]
        if ctx.prev is not None and ctx.prev.type in ("LSQB", "COMMA"):
            return []
    prev = ctx.prev
    in_call = (
        prev is not None and prev.type == "LPAR" and len(toks) >= 2 and toks[-2].type == "NAME"
    )
    # Where a whole condition may begin (not as a function's argument).
    start = accepts(stack, terms("not")) and not in_call
    after_op = _is_operator(prev) or (prev is not None and prev.type == "_AND")
    lhs = ctx.operand_type(toks[:-1]) if after_op and not start else None
    out: list[Candidate] = []
    if ctx.stream is not None:
        st = ctx.stream
        names = [(n, f.type, f.values) for n, f in st.fields.items()]
        names.append((st.time, Type.TIMESTAMP, None))
        for n, t, values in names:
            if _compatible(lhs, t):
                out.append(Candidate(quote_name(n), f"{st.name}: {_field_meta(t, values)}"))
        prior = schema.streams.get(ctx.frame.prior) if ctx.frame.prior else None
        if prior is not None:  # the earlier event's fields
            for n, pf in prior.fields.items():
                if _compatible(lhs, pf.type):
                    meta = f"the earlier {prior.name} event: {_field_meta(pf.type, pf.values)}"
                    out.append(Candidate(f"{quote_name(prior.name)}.{quote_name(n)}", meta))
        # names the stream does not have are the contact's (CONTRACT §5.3)
        for n, fd in schema.entity.fields.items():
            if n not in st.fields and n != st.time and _compatible(lhs, fd.type):
                out.append(Candidate(quote_name(n), f"contact: {_field_meta(fd.type, fd.values)}"))
        for n, tr in schema.traits.items():
            ttype = texpr_type(definitions(schema).traits.get(n))
            if n not in st.fields and n != st.time and _compatible(lhs, ttype):
                out.append(Candidate(quote_name(n), f"contact trait: {' '.join(tr.text.split())}"))
    else:
        for n, fd in schema.entity.fields.items():
            if _compatible(lhs, fd.type):
                out.append(Candidate(quote_name(n), _field_meta(fd.type, fd.values)))
        for n, tr in schema.traits.items():
            ttype = texpr_type(definitions(schema).traits.get(n))
            if _compatible(lhs, ttype):
                out.append(Candidate(quote_name(n), f"trait: {' '.join(tr.text.split())}"))
        for n, sg in schema.segmentations.items():
            if _compatible(lhs, Type.STRING):
                classes = ", ".join(sg.values)
                out.append(Candidate(quote_name(n), f"segmentation: {classes}"))
        for n, ex in schema.experiments.items():
            if _compatible(lhs, Type.STRING):
                arms = ", ".join(arm.name for arm in ex.arms)
                out.append(Candidate(quote_name(n), f"experiment: {arms}"))
    if start:
        for phrase, meta in (
            (("not ", "negation"),)
            if ctx.stream
            else (
                ("has ", "has STREAM [where C] [within D] [[not] followed by STREAM …]"),
                ("not ", "negation"),
                ("in segment ", "membership of a catalog segment"),
                ("top ", "top N% by x"),
            )
        ):
            if accepts(stack, terms(phrase)):
                out.append(Candidate(phrase, meta))
    kind = _kind(lhs)
    if kind == "boolean":
        out += [Candidate("true"), Candidate("false")]
    if kind == "time":
        out += [Candidate("now", "the as-of time"), Candidate("today", "start of as-of's day")]
    funcs = list(_FUNCS)
    if ctx.stream is None:
        funcs += [*_AGGS, *_POPULATION, *_CHANNEL_FUNCS]
    for fn in funcs:
        if _compatible(lhs, _FUNC_KINDS.get(fn)):
            f = FUNCTIONS[fn]
            out.append(Candidate(fn + "(", f"{f.signature}: {f.summary}"))
    return out


def _operator_candidates(ctx: _Context, stack: list[Any], toks: list[Any]) -> list[Candidate]:
    kind = _kind(ctx.operand_type(toks))
    # Right after a bare operand a predicate may follow: offer those that fit its type.
    # After a whole condition, only what the parser accepts: and, or, within, `)`, ….
    pred_ok = accepts(stack, terms("is null"))
    if pred_ok and kind is not None:
        phrases = _OPS_BY_KIND[kind]
        if kind in ("boolean", "condition", "segment"):
            phrases += ("and ", "or ")
        if kind == "condition":
            phrases += ("where ", "within ")
        # (offered where the parser takes them: after a `has`, its condition or `within`)
        phrases += ("followed by ", "not followed by ", ")", "]")
    else:
        phrases = (*(_PRED_OPS if pred_ok else ()), *_TAIL)
    out = []
    for phrase in phrases:
        if accepts(stack, terms(phrase)):
            out.append(Candidate(phrase, _OP_META.get(phrase, "")))
    return out


def _complete_meta(text: str) -> tuple[str, list[Candidate]]:
    if " " not in text:
        cands = [Candidate(f":{c}", f"{a} {d}".strip()) for c, (a, d) in COMMANDS.items()]
        return text, [c for c in cands if c.text.startswith(text.lower()) and c.text != text]
    cmd, _, arg = text.partition(" ")
    word = arg.lstrip()
    if cmd.lower() == ":sql" and " " not in word:
        from segql.backends.sql.dialects import SUPPORTED, experimental_dialects

        names = [Candidate(d, "supported") for d in SUPPORTED]
        names += [Candidate(d, "experimental") for d in experimental_dialects()]
        return word, [c for c in names if c.text.startswith(word.lower()) and c.text != word]
    return word, []


def make_completer(schema: Schema | Callable[[], Schema]) -> Completer:
    """A prompt_toolkit Completer over :func:`complete`; ``schema`` may be a function
    giving the current one (the REPL's changes when a segment is saved)."""
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.document import Document

    class SegqlCompleter(Completer):
        def get_completions(self, document: Document, complete_event: Any) -> Iterator[Completion]:
            current = schema() if callable(schema) else schema
            word, cands = complete(document.text_before_cursor, current)
            for c in cands:
                yield Completion(
                    c.text,
                    start_position=-len(word),
                    display=c.text.rstrip(),
                    display_meta=c.meta,
                )

    return SegqlCompleter()
