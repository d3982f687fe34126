"""`segql repl`: explore data by typing segments.

Every accepted expression prints its member count and share of all contacts; errors get
a caret under the input. On a terminal it is a prompt_toolkit session with highlighting,
context-aware completion, multi-line input and persistent history; when stdin is not a
terminal it reads one expression (or meta-command) per line, so it can be scripted.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .diagnostics import SegqlError, render
from .formatter import quote_name
from .syntax import KEYWORDS

if TYPE_CHECKING:
    from .engine import Database
    from .schema import Schema

__all__ = ["SegqlCompleter", "Session", "run_repl"]

HELP = """\
Type a segment to count its members, e.g.  purchases > 3 and last_open < 30d
Meta-commands:
  :sql [dialect]   SQL of the last expression (default duckdb)
  :schema          fields, traits and event streams
  :segments        catalog segments with member counts
  :as-of [T]       show or set the evaluation time (ISO date or timestamp, UTC)
  :save NAME       add the last expression to the catalog file as segment NAME
  :help            this text
  :quit            leave (also Ctrl-D)
Tab completes names, keywords, stream fields, known values and duration units."""

UNITS = ["d", "w", "mo", "y", "h", "min", "s"]
FUNCTIONS = [
    "count(", "sum(", "avg(", "min(", "max(", "first(", "last(", "count_distinct(",
    "lower(", "upper(", "trim(", "length(", "abs(", "round(", "floor(", "ceil(",
    "coalesce(", "year(", "month(", "day(", "weekday(", "days_since(",
    "days_until_anniversary(", "percentile(",
]  # fmt: skip
_AGGS = ("count", "sum", "avg", "min", "max", "first", "last", "count_distinct")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse_as_of(text: str) -> dt.datetime:
    text = text.strip()
    if "T" in text or " " in text:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        d = dt.date.fromisoformat(text)
        value = dt.datetime(d.year, d.month, d.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class Session:
    """The REPL's state and its line handling, independent of any terminal library."""

    def __init__(
        self,
        schema: Schema,
        db: Database,
        *,
        catalog_path: Path | None = None,
        as_of: dt.datetime | None = None,
        out: Any = None,
        color: bool = False,
    ) -> None:
        self.schema = schema
        self.db = db
        self.catalog_path = catalog_path
        self.as_of = as_of
        self.out = out or sys.stdout
        self.color = color
        self.last: str | None = None
        self._total: int | None = None

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    def total(self) -> int:
        if self._total is None:
            self._total = self.db.count("true", self.schema, as_of=self.as_of)
        return self._total

    def handle(self, line: str) -> bool:
        """Run one input; False when it failed."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        if text.startswith(":"):
            return self.meta(text)
        return self.evaluate(text)

    def evaluate(self, text: str) -> bool:
        from .checker import check, typed

        try:
            for d in check(text, self.schema):
                if not d.is_error:
                    self.say(render(d, color=self.color))
            tree = typed(text, self.schema)
            n = self.db.count(tree, self.schema, as_of=self.as_of)
        except SegqlError as e:
            for d in e.diagnostics:
                self.say(render(d, color=self.color))
            return False
        total = self.total()
        share = 100.0 * n / total if total else 0.0
        self.say(f"{n:,} members ({share:.1f}% of {total:,} contacts)")
        self.last = text
        return True

    def meta(self, text: str) -> bool:
        cmd, _, arg = text[1:].partition(" ")
        arg = arg.strip()
        match cmd:
            case "help" | "h" | "?":
                self.say(HELP)
            case "quit" | "q" | "exit":
                raise EOFError
            case "schema":
                self.show_schema()
            case "segments":
                self.show_segments()
            case "as-of" | "asof":
                if arg:
                    try:
                        self.as_of = _parse_as_of(arg)
                    except ValueError:
                        self.say(
                            f"error: invalid time {arg!r}; use 2026-06-01 or 2026-06-01T12:00:00"
                        )
                        return False
                    self._total = None
                shown = f"{self.as_of:%Y-%m-%d %H:%M:%S} UTC" if self.as_of else "now"
                self.say(f"as of {shown}")
            case "sql":
                return self.show_sql(arg or "duckdb")
            case "save":
                return self.save(arg)
            case _:
                self.say(f"error: unknown command :{cmd} (try :help)")
                return False
        return True

    def show_schema(self) -> None:
        s = self.schema
        self.say("fields:")
        for name, f in s.entity.fields.items():
            values = f" in {list(f.values)}" if f.values else ""
            self.say(f"  {quote_name(name)}: {f.type}{values}")
        if s.traits:
            self.say("traits:")
            for name, t in s.traits.items():
                self.say(f"  {quote_name(name)} = {t.text.strip()}")
        self.say("event streams:")
        for name, st in s.streams.items():
            fields = ", ".join(f"{quote_name(n)}: {f.type}" for n, f in st.fields.items())
            self.say(f"  {quote_name(name)} (time {st.time}): {fields}")

    def show_segments(self) -> None:
        if not self.schema.segments:
            self.say("no segments (pass --catalog)")
            return
        total = self.total()
        for name, seg in self.schema.segments.items():
            n = self.db.count(self.schema.segments_ir[name], self.schema, as_of=self.as_of)
            share = 100.0 * n / total if total else 0.0
            desc = f"  {seg.description}" if seg.description else ""
            self.say(f"  {name:<24} {n:>9,} {share:>5.1f}%{desc}")

    def show_sql(self, dialect: str) -> bool:
        from .sql import to_sql

        if self.last is None:
            self.say("error: no expression yet")
            return False
        try:
            self.say(to_sql(self.last, self.schema, dialect=dialect, as_of=self.as_of))
        except SegqlError as e:
            for d in e.diagnostics:
                self.say(render(d, color=self.color))
            return False
        return True

    def save(self, name: str) -> bool:
        if self.last is None:
            self.say("error: no expression to save yet")
            return False
        if not _NAME_RE.match(name or "") or name.lower() in KEYWORDS:
            self.say("error: :save needs a segment name such as big_spenders")
            return False
        if name in self.schema.segments:
            self.say(f"error: segment `{name}` already exists")
            return False
        if self.catalog_path is None:
            self.say("error: no catalog file; start the REPL with --catalog FILE")
            return False
        path = self.catalog_path
        if path.suffix.lower() not in (".yaml", ".yml"):
            self.say("error: :save writes YAML catalogs only")
            return False
        if path.exists():
            from .config import load_catalog

            existing, _ = load_catalog(path)
            if name in existing:
                self.say(f"error: segment `{name}` already exists in {path}")
                return False
        append_segment(path, name, self.last)
        from .schema import SegmentDef

        self.schema.segments[name] = SegmentDef(name=name, text=self.last)
        from .checker import typed

        self.schema.segments_ir[name] = typed(self.last, self.schema)
        self.say(f"saved `{name}` to {path}")
        return True


def append_segment(path: Path, name: str, text: str) -> None:
    """Append a segment to a YAML catalog without touching the rest of the file."""
    from .formatter import format_expr
    from .syntax import parse

    canonical = format_expr(parse(text))
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = []
    if not re.search(r"^segments:\s*$", existing, re.M):
        if existing and not existing.endswith("\n"):
            existing += "\n"
        lines.append("segments:")
    elif existing and not existing.endswith("\n"):
        existing += "\n"
    lines.append(f"  {name}:")
    if (
        "\n" in canonical
        or canonical[:1] in "'\"[{&*!|>%@`#"
        or ": " in canonical
        or " #" in canonical
    ):
        lines.append("    where: |")
        lines += [f"      {ln}" for ln in canonical.split("\n")]
    else:
        lines.append(f"    where: {canonical}")
    path.write_text(existing + "\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# Completion and highlighting (prompt_toolkit)
# ---------------------------------------------------------------------------------------


def _tokens(text: str) -> list[Any]:
    from .syntax import _lex

    out = []
    try:
        for tok in _lex(text):
            out.append(tok)
    except Exception:
        pass
    return out


def completions_for(text: str, schema: Schema) -> tuple[str, list[str]]:
    """(the word being completed, candidates) for the text before the cursor."""
    m = re.search(r"[A-Za-z0-9_`.]*$", text)
    word = m.group(0) if m else ""
    before = text[: len(text) - len(word)]
    toks = _tokens(before)
    prev = toks[-1] if toks else None
    prev_low = str(prev.value).lower() if prev is not None else ""

    def names(xs: Iterable[str]) -> list[str]:
        return [quote_name(x) for x in xs]

    if re.fullmatch(r"\d+", word):
        return word, [word + u for u in UNITS]
    if prev is not None and prev.type == "SEGMENT":
        return word, names(schema.segments)
    stream = _open_aggregate(toks)
    if stream is not None and stream in schema.streams:
        st = schema.streams[stream]
        if prev_low in ("where", "and", "or", "not", "(") or prev is None:
            return word, names([*st.fields, st.time])
    if prev is not None and (
        prev_low in ("has",) or (prev.type == "LPAR" and _call_name(toks) in _AGGS)
    ):
        streams = list(schema.streams)
        if "." in word:
            head = word.split(".")[0]
            if head in schema.streams:
                return word, [f"{head}.{quote_name(f)}" for f in schema.streams[head].fields]
        return word, names(streams)
    # Known values after `field =` / `field in [`.
    field = _value_context(toks)
    if field is not None:
        fd = schema.entity.fields.get(field)
        if fd is not None and fd.values:
            return word, [f"'{v}'" for v in fd.values]
    if prev is None or prev_low in ("and", "or", "not", "(", "where"):
        return word, [
            *names(schema.entity.fields),
            *names(schema.traits),
            "has ",
            "not ",
            "in segment ",
            "top ",
            *FUNCTIONS,
        ]
    if prev.type in ("NAME", "QUOTED_NAME", "RPAR", "INT", "DECIMAL", "STRING", "DURATION"):
        return word, ["and", "or", "in", "not in", "is null", "is not null", "between",
                      "contains", "starts with", "ends with", "within", "ago"]  # fmt: skip
    return word, [*names(schema.entity.fields), *names(schema.traits)]


def _call_name(toks: list[Any]) -> str:
    if len(toks) >= 2 and toks[-1].type == "LPAR" and toks[-2].type == "NAME":
        return str(toks[-2].value).lower()
    return ""


def _open_aggregate(toks: list[Any]) -> str | None:
    """The stream of an aggregate or `has` whose `where` the cursor is in."""
    depth = 0
    for i in range(len(toks) - 1, -1, -1):
        t = toks[i]
        if t.type == "RPAR":
            depth += 1
        elif t.type == "LPAR":
            if depth == 0:
                if (
                    i >= 1
                    and toks[i - 1].type == "NAME"
                    and str(toks[i - 1].value).lower() in _AGGS
                ):
                    nxt = toks[i + 1] if i + 1 < len(toks) else None
                    if nxt is not None and nxt.type in ("NAME", "QUOTED_NAME"):
                        return str(nxt.value).strip("`")
                return None
            depth -= 1
        elif t.type == "HAS" and depth == 0:
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is not None and any(x.type == "_WHERE" for x in toks[i:]):
                return str(nxt.value).strip("`")
    return None


def _value_context(toks: list[Any]) -> str | None:
    """The field before `=`, `!=` or `in [` / `in (` when a value is being typed."""
    i = len(toks) - 1
    while i >= 0 and toks[i].type in ("STRING", "COMMA"):
        i -= 1
    if i >= 0 and toks[i].type in ("LSQB", "LPAR"):
        i -= 1
        if i >= 0 and toks[i].type == "IN":
            i -= 1
            if i >= 0 and toks[i].type == "NOT":
                i -= 1
            return str(toks[i].value).strip("`") if i >= 0 else None
        return None
    if i >= 0 and str(toks[i].value) in ("=", "!="):
        return str(toks[i - 1].value).strip("`") if i >= 1 else None
    return None


def SegqlCompleter(schema: Schema) -> Any:
    from prompt_toolkit.completion import Completer, Completion

    class _Completer(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterator[Any]:
            word, cands = completions_for(document.text_before_cursor, schema)
            low = word.lower().lstrip("`")
            for c in cands:
                if c.lower().lstrip("`").startswith(low):
                    yield Completion(c, start_position=-len(word))

    return _Completer()


_STYLE = {
    "KEYWORD": "ansiblue bold",
    "NAME": "",
    "QUOTED_NAME": "ansicyan",
    "STRING": "ansigreen",
    "NUMBER": "ansimagenta",
    "DURATION": "ansiyellow",
    "COMMENT": "ansibrightblack italic",
    "ERROR": "bg:ansired ansiwhite",
}


def highlight(line: str) -> list[tuple[str, str]]:
    """(style, text) fragments of one line for the prompt."""
    from .syntax import _lex, _LexFail

    out: list[tuple[str, str]] = []
    pos = 0
    try:
        for tok in _lex(line):
            if tok.start_pos > pos:
                gap = line[pos : tok.start_pos]
                style = _STYLE["COMMENT"] if "#" in gap else ""
                out.append((style, gap))
            kind = tok.type
            if str(tok.value).lower() in KEYWORDS and kind not in ("NAME", "QUOTED_NAME", "STRING"):
                style = _STYLE["KEYWORD"]
            elif kind in ("INT", "DECIMAL", "DATE", "TIMESTAMP"):
                style = _STYLE["NUMBER"]
            else:
                style = _STYLE.get(kind, "")
            out.append((style, str(tok.value)))
            pos = tok.end_pos
    except _LexFail as e:
        if e.pos > pos:
            out.append(("", line[pos : e.pos]))
        out.append((_STYLE["ERROR"], line[e.pos :]))
        return out
    if pos < len(line):
        rest = line[pos:]
        out.append((_STYLE["COMMENT"] if "#" in rest else "", rest))
    return out


def _lexer() -> Any:
    from prompt_toolkit.lexers import Lexer

    class _SegqlLexer(Lexer):
        def lex_document(self, document: Any) -> Any:
            lines = document.lines
            return lambda i: highlight(lines[i]) if i < len(lines) else []

    return _SegqlLexer()


def needs_more(text: str) -> bool:
    """Whether Enter should continue the input on a new line."""
    stripped = text.rstrip()
    if not stripped:
        return False
    toks = _tokens(stripped)
    depth = 0
    for t in toks:
        if t.type in ("LPAR", "LSQB"):
            depth += 1
        elif t.type in ("RPAR", "RSQB"):
            depth -= 1
    if depth > 0:
        return True
    last = toks[-1] if toks else None
    if last is None:
        return False
    low = str(last.value).lower()
    return last.type not in ("QUOTED_NAME", "STRING") and (
        low in ("and", "or", "not", "where", "between", "in", "is", "within", "by")
        or str(last.value) in ("=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", ",")
    )


def run_repl(
    schema: Schema,
    db: Database,
    *,
    catalog_path: Path | None = None,
    as_of: dt.datetime | None = None,
    input: Any = None,
    output: Any = None,
    history_path: Path | None = None,
) -> int:
    """Run the REPL until :quit or end of input; returns an exit code."""
    interactive = input is not None or (sys.stdin.isatty() and sys.stdout.isatty())
    if not interactive:
        session = Session(schema, db, catalog_path=catalog_path, as_of=as_of)
        ok = True
        try:
            for line in sys.stdin:
                ok = session.handle(line) and ok
        except EOFError:
            pass
        return 0 if ok else 1
    return _interactive(schema, db, catalog_path, as_of, input, output, history_path)


def _interactive(
    schema: Schema,
    db: Database,
    catalog_path: Path | None,
    as_of: dt.datetime | None,
    input: Any,
    output: Any,
    history_path: Path | None,
) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    path = history_path or Path(os.environ.get("SEGQL_HISTORY") or Path.home() / ".segql_history")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        history: Any = FileHistory(str(path))
    except OSError:
        history = InMemoryHistory()
    bindings = KeyBindings()

    @bindings.add("enter")
    def _(event: Any) -> None:
        buf = event.current_buffer
        if needs_more(buf.text):
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    session: Any = PromptSession(
        history=history,
        lexer=_lexer(),
        completer=SegqlCompleter(schema),
        key_bindings=bindings,
        multiline=True,
        prompt_continuation=lambda width, n, soft: "." * (width - 1) + " ",
        input=input,
        output=output,
    )
    out = _Writer(session)
    state = Session(schema, db, catalog_path=catalog_path, as_of=as_of, out=out, color=False)
    state.say("segql repl — :help for commands, Ctrl-D to leave")
    ok = True
    while True:
        try:
            text = session.prompt("segql> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            ok = state.handle(text) and ok
        except EOFError:
            break
    return 0


class _Writer:
    """A text stream that prints through prompt_toolkit's output."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def write(self, text: str) -> int:
        from prompt_toolkit import print_formatted_text

        if text and text != "\n":
            print_formatted_text(text.rstrip("\n"), output=self.session.output)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
