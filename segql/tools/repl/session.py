"""`segql repl`: explore data by typing segments — the session and its meta-commands.

Every accepted expression prints its member count and share of all contacts; errors get
the source line and a caret. The REPL's pieces live in sibling modules and are usable on
their own (and tested that way): :class:`Session` here runs inputs;
:func:`~segql.tools.repl.completion.complete` computes completions,
:func:`~segql.tools.repl.highlighting.highlight` styles a line,
:func:`~segql.tools.repl.prefix.needs_more` decides whether Enter continues the input,
:func:`~segql.tools.repl.catalog_edit.append_segment` edits a YAML catalog, and
:func:`~segql.tools.repl.terminal.run_repl` drives it all on a terminal or a script.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import gc
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from segql.core.diagnostics import Diagnostic, SegqlError, Span, render
from segql.core.limits import DEFAULT_LIMITS
from segql.core.types import Type
from segql.ir.definitions import definitions
from segql.lang.formatter import quote_name
from segql.lang.tokens import KEYWORDS
from segql.tools.repl.catalog_edit import SaveError, append_segment

if TYPE_CHECKING:
    from segql.core.schema import Schema
    from segql.engine import Database


# ---------------------------------------------------------------------------------------
# Meta-commands and the session
# ---------------------------------------------------------------------------------------

# name: (arguments, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "sql": ("[dialect]", "the SQL of the last expression (default: the engine's)"),
    "schema": ("", "fields, traits and event streams"),
    "segments": ("", "catalog segments with member counts"),
    "as-of": ("[T]", "show or set the evaluation time (ISO date or timestamp, UTC)"),
    "save": ("NAME [description]", "add the last expression to the catalog file"),
    "explain": ("KEY", "why contact KEY is in the last expression or not, clause by clause"),
    "pager": ("[on|off]", "show or set paging of output taller than the terminal"),
    "help": ("", "this text"),
    "quit": ("", "leave (also Ctrl-D)"),
}
_COMMAND_ALIASES = {"h": "help", "?": "help", "q": "quit", "exit": "quit", "asof": "as-of"}

KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "run the input (a new line while it is unfinished; on an empty line: run)"),
    ("Esc Enter", "always a new line"),
    ("Tab", "complete (Shift-Tab goes back)"),
    ("Up / Down", "walk the history"),
    ("Ctrl-R", "search the history (Enter takes the match)"),
    ("Ctrl-C", "abandon the input, or interrupt a running query"),
    ("Ctrl-D", "leave (on an empty line)"),
)


def _table(rows: Iterable[tuple[str, str]]) -> list[str]:
    rows = list(rows)
    width = max(len(left) for left, _ in rows)
    return [f"  {left:<{width}}  {right}" for left, right in rows]


HELP = "\n".join(
    [
        "Type a segment to count its members, e.g.  purchases > 3 and last_open < 30d",
        "Keys:",
        *_table(KEYS),
        "Meta-commands (a unique prefix is enough: :seg, :sch):",
        *_table((f":{name} {args}".rstrip(), text) for name, (args, text) in COMMANDS.items()),
    ]
)

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_as_of(text: str) -> dt.datetime:
    """An ISO date (midnight) or timestamp; naive values are UTC. Raises ValueError."""
    text = text.strip()
    if "T" in text or " " in text:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        d = dt.date.fromisoformat(text)
        value = dt.datetime(d.year, d.month, d.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def color_allowed() -> bool:
    """Colour unless NO_COLOR is set to a non-empty value (no-color.org: an empty
    NO_COLOR does not disable it)."""
    return not os.environ.get("NO_COLOR")


class Session:
    """The REPL's state and its input handling, independent of any terminal library.

    ``out`` receives results, ``err`` diagnostics (the same stream unless given). When
    ``file`` is set, diagnostics are placed at ``file:line:col`` of the input line
    (script mode)."""

    def __init__(
        self,
        schema: Schema,
        db: Database,
        *,
        catalog_path: Path | None = None,
        as_of: dt.datetime | None = None,
        out: Any = None,
        err: Any = None,
        color: bool = False,
        file: str | None = None,
        pager: Callable[[str], bool] | None = None,
    ) -> None:
        self.schema = schema
        self.db = db
        # The limits the session's Database was opened with (the CLI's --limit).
        self.limits = getattr(db, "limits", None) or DEFAULT_LIMITS
        self.catalog_path = catalog_path
        self.as_of = as_of
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else self.out
        self.color = color
        self.file = file
        self.last: str | None = None
        self._total: int | None = None
        # Shows text taller than the terminal through a pager; True when it did.
        self.pager = pager
        self.paging = pager is not None

    # --- output -----------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        print(text, file=self.out)
        _flush(self.out)

    def show(self, lines: Sequence[str]) -> None:
        """Long output (help, schema, SQL, segments): through the pager when it is on and
        the text is taller than the terminal."""
        text = "\n".join(lines)
        _flush(self.out)
        if self.paging and self.pager is not None and self.pager(text):
            return
        self.say(text)

    def interrupted(self) -> None:
        print("interrupted", file=self.err)
        _flush(self.err)

    def complain(self, text: str, hints: Iterable[str] = ()) -> None:
        text = ("\x1b[1;31merror:\x1b[0m " if self.color else "error: ") + text
        print(text, file=self.err)
        for hint in hints:
            print(f"  hint: {hint}", file=self.err)
        _flush(self.err)

    def report(self, diags: Iterable[Diagnostic], text: str, lineno: int | None) -> None:
        for d in diags:
            if self.file is not None and lineno is not None and d.file is None:
                base = Span(start=0, end=0, line=lineno, column=1, end_line=lineno, end_column=1)
                d = d.with_location(file=self.file, source="\n" * (lineno - 1) + text, base=base)
            print(render(d, color=self.color), file=self.err)
        _flush(self.err)

    # --- inputs -----------------------------------------------------------------------
    def handle(self, text: str, lineno: int | None = None) -> bool:
        """Run one input (an expression or a meta-command); False when it failed.

        Raises EOFError for ``:quit``, and KeyboardInterrupt when Ctrl-C interrupted it
        (also when the engine reports the cancelled query as an error)."""
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return True
        try:
            if stripped.startswith(":"):
                return self.meta(stripped)
            return self.evaluate(text.rstrip("\r\n"), lineno)
        except KeyboardInterrupt:
            raise
        except Exception as e:
            if is_interrupt(e):  # Ctrl-C reached the engine: the query was cancelled
                raise KeyboardInterrupt from None
            raise

    def total(self) -> int:
        """All contacts (counted once per session)."""
        if self._total is None:
            self._total = self.count("true")
        return self._total

    def count(self, source: Any) -> int:
        """Members of an expression or typed tree, in a way Ctrl-C cancels at once."""
        return cancellable(lambda: self.db.count(source, self.schema, as_of=self.as_of), self.db)

    def share(self, n: int) -> str:
        total = self.total()
        pct = 100.0 * n / total if total else 0.0
        noun = "member" if n == 1 else "members"
        return f"{n:,} {noun} ({pct:.1f}% of {total:,} contacts)"

    def evaluate(self, text: str, lineno: int | None = None) -> bool:
        from segql.checker import check, typed

        try:
            diags = check(text, self.schema, limits=self.limits)
            if any(d.is_error for d in diags):
                self.report(diags, text, lineno)
                if text.strip().lower() in ("quit", "exit", "help"):
                    self.say(f"(meta-commands start with a colon: :{text.strip().lower()})")
                return False
            self.report(diags, text, lineno)  # warnings
            tree = typed(text, self.schema, limits=self.limits)
            n = self.count(tree)
            line = self.share(n)
        except SegqlError as e:
            if is_interrupt(e):
                raise KeyboardInterrupt from None
            self.report(e.diagnostics, text, lineno)
            return False
        self.say(line)
        self.last = text
        return True

    def meta(self, text: str) -> bool:
        cmd, _, arg = text[1:].strip().partition(" ")
        cmd = cmd.lower()
        cmd = _COMMAND_ALIASES.get(cmd, cmd)
        prefixed = [c for c in COMMANDS if c.startswith(cmd)] if cmd else []
        if cmd not in COMMANDS and len(prefixed) == 1:
            cmd = prefixed[0]  # a unique prefix: `:seg` is `:segments`
        arg = arg.strip()
        match cmd:
            case "help":
                self.show(HELP.split("\n"))
                return True
            case "pager":
                return self.set_pager(arg)
            case "quit":
                raise EOFError
            case "schema":
                self.show_schema()
                return True
            case "segments":
                return self.show_segments()
            case "as-of":
                return self.set_as_of(arg)
            case "sql":
                # default: the dialect of the engine the session runs on
                engine = getattr(getattr(self.db, "adapter", None), "dialect", "duckdb")
                return self.show_sql(arg or engine)
            case "save":
                name, _, description = arg.partition(" ")
                return self.save(name, description.strip() or None)
            case "explain":
                return self.explain(arg)
        near = difflib.get_close_matches(cmd, COMMANDS, n=1)
        hint = f"; did you mean :{near[0]}?" if near else ""
        self.complain(
            f"unknown command `:{cmd}`{hint} (commands: "
            + ", ".join(f":{c}" for c in COMMANDS)
            + ")"
        )
        return False

    def explain(self, key: str) -> bool:
        from segql.engines.explain import render

        if self.last is None:
            self.complain("no expression yet: type one, then :explain KEY")
            return False
        if not key:
            self.complain("give a contact's key: :explain 42")
            return False
        text = self.last
        try:
            tree = cancellable(
                lambda: self.db.explain(text, self.schema, key, as_of=self.as_of), self.db
            )
        except SegqlError as e:
            if is_interrupt(e):
                raise KeyboardInterrupt from None
            self.report(e.diagnostics, text, None)
            return False
        self.show(render(tree, key).rstrip("\n").split("\n"))
        return True

    def set_as_of(self, arg: str) -> bool:
        if arg:
            try:
                self.as_of = parse_as_of(arg)
            except ValueError:
                self.complain(
                    f"invalid time {arg!r}: use an ISO date (2026-06-01) or timestamp "
                    "(2026-06-01T12:00:00, UTC unless it has a zone)"
                )
                return False
            self._total = None
        self.say(as_of_text(self.as_of))
        return True

    def set_pager(self, arg: str) -> bool:
        match arg.lower():
            case "":
                pass
            case "on":
                if self.pager is None:
                    self.complain("no pager here: output is not a terminal")
                    return False
                self.paging = True
            case "off":
                self.paging = False
            case _:
                self.complain(f"usage: :pager [on|off], not `{arg}`")
                return False
        self.say(f"pager {'on' if self.paging else 'off'}")
        return True

    def show_schema(self) -> None:
        s = self.schema
        out: list[str] = []
        say = out.append
        say(f"contacts ({s.entity.source.label}, key {s.entity.key}):")
        for name, f in s.entity.fields.items():
            values = f"  values: {', '.join(f.values)}" if f.values else ""
            say(f"  {quote_name(name)}: {f.type}{values}")
        if s.traits:
            say("traits:")
            for name, t in s.traits.items():
                typ = texpr_type(definitions(s).traits.get(name))
                shown = f": {typ}" if typ is not None else ""
                say(f"  {quote_name(name)}{shown} = {' '.join(t.text.split())}")
        say("event streams:")
        for name, st in s.streams.items():
            where = f" where {' '.join(st.filter_text.split())}" if st.filter_text else ""
            say(f"  {quote_name(name)} (time: {st.time}){where}")
            for fname, f in st.fields.items():
                values = f"  values: {', '.join(f.values)}" if f.values else ""
                say(f"    {quote_name(fname)}: {f.type}{values}")
        self.show(out)

    def show_segments(self) -> bool:
        segs = self.schema.segments
        if not segs:
            self.say("no segments (pass --catalog FILE, or :save NAME to start one)")
            return True
        ok = True
        width = max(len(quote_name(n)) for n in segs)
        out: list[str] = []
        for name, seg in segs.items():
            try:
                source = definitions(self.schema).segments.get(name) or seg.text
                n = self.count(source)
                pct = 100.0 * n / self.total() if self.total() else 0.0
                counted = f"{n:>9,} {pct:5.1f}%"
            except SegqlError as e:
                if is_interrupt(e):
                    raise KeyboardInterrupt from None
                ok = False
                counted = f"{'error':>9}       ({e.diagnostic.message})"
            desc = f"  {seg.description}" if seg.description else ""
            out.append(f"  {quote_name(name):<{width}}  {counted}{desc}")
        self.show(out)
        return ok

    def show_sql(self, dialect: str) -> bool:
        from segql.pipeline import to_sql

        if self.last is None:
            self.complain("no expression yet: type one, then :sql [dialect]")
            return False
        try:
            sql = to_sql(
                self.last, self.schema, dialect=dialect, as_of=self.as_of, limits=self.limits
            )
        except SegqlError as e:
            for d in e.diagnostics:
                if d.source is None:  # not about the expression: no line to point at
                    self.complain(d.message, d.hints)
                else:
                    self.report([d], self.last, None)
            return False
        self.show(sql.split("\n"))
        return True

    def save(self, name: str, description: str | None = None) -> bool:
        if self.last is None:
            self.complain("nothing to save yet: type an expression first")
            return False
        if not name:
            self.complain("usage: :save NAME [description]")
            return False
        if not _NAME_RE.match(name) or name.lower() in KEYWORDS:
            self.complain(
                f"`{name}` is not a valid segment name: use letters, digits and `_`, "
                "starting with a letter (and not a keyword), e.g. big_spenders"
            )
            return False
        if name in self.schema.segments:
            self.complain(f"segment `{name}` already exists")
            return False
        if self.catalog_path is None:
            self.complain("no catalog file to save to: start the REPL with --catalog FILE")
            return False
        from segql.checker import typed
        from segql.core.schema import SegmentDef
        from segql.lang.formatter import format_expr
        from segql.lang.parser import parse

        text = format_expr(parse(self.last))
        try:
            append_segment(self.catalog_path, name, text, description=description)
        except SaveError as e:
            self.complain(str(e))
            return False
        # A new schema with the segment, never a change to the one the caller gave us.
        added = SegmentDef(name=name, text=text, description=description)
        self.schema = dataclasses.replace(
            self.schema, segments={**self.schema.segments, name: added}
        )
        typed(f"in segment {quote_name(name)}", self.schema, limits=self.limits)
        self.say(f"saved segment `{name}` to {self.catalog_path}")
        return True


T = TypeVar("T")


def cancellable(call: Callable[[], T], db: Any) -> T:
    """Run a database call so that Ctrl-C stops it at once.

    An engine notices Python's SIGINT only between chunks of work (DuckDB: seconds, even
    a minute, on a big join), so on the main thread the call runs in a worker thread while
    this one waits; KeyboardInterrupt then tells the engine to stop (``db.interrupt()``,
    else ``db.con.interrupt()``), waits for the worker and is raised again."""
    if threading.current_thread() is not threading.main_thread():
        return call()
    box: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            box.append((True, call()))
        except BaseException as e:  # handed to the waiting thread
            box.append((False, e))

    worker = threading.Thread(target=work, name="segql-query", daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        while worker.ident is not None:  # started: stop the engine, wait for the worker
            _interrupt(db)
            try:
                while worker.is_alive():
                    worker.join(0.05)
                break
            except KeyboardInterrupt:  # again: ask again, keep waiting
                continue
        # The worker's exception and its frames can hold the engine's cancelled result,
        # and with it the connection ("busy with another call"): let go of them now.
        box.clear()
        gc.collect()
        raise KeyboardInterrupt from None
    ok, value = box[0]
    if not ok:
        raise value
    result: T = value
    return result


def _interrupt(db: Any) -> None:
    stop = getattr(db, "interrupt", None) or getattr(getattr(db, "con", None), "interrupt", None)
    if callable(stop):
        with contextlib.suppress(Exception):
            stop()


def as_of_text(as_of: dt.datetime | None) -> str:
    """How the session's evaluation time reads (banner and ``:as-of``)."""
    if as_of is None:
        return "as of now: the current time (UTC) of each query; :as-of T fixes it"
    return f"as of {as_of:%Y-%m-%d %H:%M:%S} UTC"


def is_interrupt(e: BaseException) -> bool:
    """Whether an exception is a query cancelled by Ctrl-C: KeyboardInterrupt, an
    EngineError with code ``interrupted``, or DuckDB's own ways of saying so (its
    InterruptException, possibly wrapped in an ``engine`` error, or
    ``RuntimeError('Query interrupted')``)."""
    if isinstance(e, KeyboardInterrupt):
        return True
    if isinstance(e, SegqlError):
        message = e.diagnostic.message
        return e.code == "interrupted" or (
            e.code == "engine" and ("INTERRUPT Error" in message or "Query interrupted" in message)
        )
    if type(e).__name__ == "InterruptException":
        return True
    return isinstance(e, RuntimeError) and str(e).strip().lower() == "query interrupted"


def _flush(stream: Any) -> None:
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()


def texpr_type(x: object) -> Type | None:
    t = getattr(x, "type", None)
    return t if isinstance(t, Type) else None
