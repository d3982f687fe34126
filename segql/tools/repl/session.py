"""`segql repl`: explore data by typing segments.

Every accepted expression prints its member count and share of all contacts; errors get
the source line and a caret. On a terminal it is a prompt_toolkit session with syntax
highlighting, context-aware completion, multi-line input and persistent history; when
stdin is not a terminal it reads one expression (or meta-command) per line, so it can be
scripted. prompt_toolkit is imported only inside functions: importing this module is cheap.

The pieces are usable on their own (and tested that way): :class:`Session` runs inputs,
:func:`complete` computes completions, :func:`highlight` styles a line, :func:`needs_more`
decides whether Enter continues the input, :func:`append_segment` edits a YAML catalog.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import gc
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from segql.core.diagnostics import Diagnostic, SegqlError, Span, render
from segql.core.limits import DEFAULT_LIMITS
from segql.core.types import Type
from segql.lang.formatter import quote_name, quote_string
from segql.lang.parser import KEYWORDS
from segql.tools.repl.prefix import accepts, lex_all, needs_more, replay, terms

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completer
    from prompt_toolkit.lexers import Lexer

    from segql.core.schema import Schema, Stream
    from segql.engine import Database

__all__ = [
    "Candidate",
    "SaveError",
    "Session",
    "append_segment",
    "catalogs_to_load",
    "complete",
    "highlight",
    "make_completer",
    "make_lexer",
    "needs_more",
    "run_repl",
]

# ---------------------------------------------------------------------------------------
# Meta-commands and the session
# ---------------------------------------------------------------------------------------

# name: (arguments, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "sql": ("[dialect]", "the SQL of the last expression (default duckdb)"),
    "schema": ("", "fields, traits and event streams"),
    "segments": ("", "catalog segments with member counts"),
    "as-of": ("[T]", "show or set the evaluation time (ISO date or timestamp, UTC)"),
    "save": ("NAME [description]", "add the last expression to the catalog file"),
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


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _color_allowed() -> bool:
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
        from segql.checker.checker import check, typed

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
                return self.show_sql(arg or "duckdb")
            case "save":
                name, _, description = arg.partition(" ")
                return self.save(name, description.strip() or None)
        near = difflib.get_close_matches(cmd, COMMANDS, n=1)
        hint = f"; did you mean :{near[0]}?" if near else ""
        self.complain(
            f"unknown command `:{cmd}`{hint} (commands: "
            + ", ".join(f":{c}" for c in COMMANDS)
            + ")"
        )
        return False

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
                typ = _texpr_type(s.traits_ir.get(name))
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
                source = self.schema.segments_ir.get(name) or seg.text
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
        from segql.backends.sql.compiler import to_sql

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
        from segql.checker.checker import typed
        from segql.core.schema import SegmentDef
        from segql.lang.formatter import format_expr
        from segql.lang.parser import parse

        text = format_expr(parse(self.last))
        try:
            append_segment(self.catalog_path, name, text, description=description)
        except SaveError as e:
            self.complain(str(e))
            return False
        self.schema.segments[name] = SegmentDef(name=name, text=text, description=description)
        self.schema.segments_ir[name] = typed(text, self.schema, limits=self.limits)
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


def _texpr_type(x: object) -> Type | None:
    t = getattr(x, "type", None)
    return t if isinstance(t, Type) else None


# ---------------------------------------------------------------------------------------
# :save — append a segment to a YAML catalog, leaving the rest of the file as it was
# ---------------------------------------------------------------------------------------


class SaveError(Exception):
    """A segment could not be appended; the message says why (the file is unchanged)."""


def catalogs_to_load(catalogs: Sequence[Path]) -> list[Path]:
    """The catalogs to load for a REPL session: all of them, except a last one (the file
    ``:save`` writes to) that does not exist yet — the first ``:save`` creates it."""
    out = list(catalogs)
    if out and not out[-1].exists():
        out.pop()
    return out


def append_segment(path: Path, name: str, text: str, *, description: str | None = None) -> None:
    """Append segment ``name`` (expression ``text``) under ``segments:`` of a YAML file.

    The new entry goes right after the last entry of the ``segments:`` mapping, with the
    file's own indentation and line endings; everything else (comments, order, other
    sections, a byte order mark) stays byte for byte. A missing file is created; a file
    without ``segments:`` gets the section at its end; an empty section (``segments:``,
    ``segments: {}``, ``segments: ~``) gets its first entry. The new text is read back with
    :func:`segql.config.load_catalog` before it is written; only if it comes back exactly
    as intended is it written, atomically (the file keeps its mode). Otherwise, or when
    the file cannot be edited safely, SaveError says why and the file is unchanged."""
    import yaml

    from segql.config.document import read_text
    from segql.config.editing import _restore_endings
    from segql.config.loader import load_catalog
    from segql.core.fsutil import write_atomic
    from segql.core.schema import SegmentDef

    if path.suffix.lower() not in (".yaml", ".yml"):
        raise SaveError(f"{path}: :save writes YAML catalogs only (.yaml or .yml)")
    try:
        original = read_text(path) if path.exists() else ""
    except SegqlError as e:
        raise SaveError(e.diagnostic.message) from None
    bom = "\ufeff" if original.startswith("\ufeff") else ""
    body = original[len(bom) :]
    norm = body.replace("\r\n", "\n")
    if "\r" in norm:
        raise SaveError(f"{path}: the file has lone CR line endings; add the segment by hand")
    before: dict[str, SegmentDef] = {}
    before_diags: list[Diagnostic] = []
    if original:
        before, before_diags = load_catalog(norm, fmt="yaml", name=str(path))
    if name in before:
        raise SaveError(f"segment `{name}` already exists in {path}")
    try:
        root = yaml.compose(norm, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise SaveError(f"cannot read {path} as YAML: {e}") from None

    edits: list[tuple[int, int, str]] = []  # in `norm`
    step = 2
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        at, indent, header = len(norm), step, "segments:\n"
    elif not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise SaveError(f"{path}: the top level is not a block mapping; add the segment by hand")
    else:
        segs = next(
            (
                (k, v)
                for k, v in root.value
                if isinstance(k, yaml.ScalarNode) and k.value == "segments"
            ),
            None,
        )
        if segs is None:
            at, indent, header = len(norm), step, "segments:\n"
        else:
            key, value = segs
            header = ""
            empty_null = isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null")
            empty_flow = (
                isinstance(value, yaml.MappingNode) and value.flow_style and not value.value
            )
            if empty_null or empty_flow:
                if value.start_mark.index != value.end_mark.index:  # `~`, `null`, `{}`
                    edits.append(_drop_value(norm, value.start_mark.index, value.end_mark.index))
                at = _line_end(norm, key.end_mark.index)
                indent = key.start_mark.column + step
            elif isinstance(value, yaml.MappingNode) and not value.flow_style:
                indent = value.value[0][0].start_mark.column
                for _, entry in value.value:  # the file's own step, from a block entry
                    if isinstance(entry, yaml.MappingNode) and entry.value and not entry.flow_style:
                        step = max(1, entry.value[0][0].start_mark.column - indent)
                        break
                last = max(_last_index(n) for pair in value.value for n in pair)
                end = last
                while end > 0 and norm[end - 1] in " \t\n":
                    end -= 1
                at = _line_end(norm, end)
            else:
                raise SaveError(
                    f"{path}: `segments:` is not a block mapping (flow style `{{…}}`?); "
                    "add the segment by hand"
                )
    pad, pad2 = " " * indent, " " * (indent + step)
    lines = [f"{pad}{name}:"]
    if description:
        lines.append(f"{pad2}description: {json.dumps(description, ensure_ascii=False)}")
    if "\n" not in text and _plain_yaml_ok(text):
        lines.append(f"{pad2}where: {text}")
    else:
        lines.append(f"{pad2}where: |")
        lines += [f"{pad2}{' ' * step}{ln}" if ln.strip() else "" for ln in text.split("\n")]
    entry = header + "\n".join(lines) + "\n"
    if at == len(norm) and norm and not norm.endswith("\n"):
        entry = "\n" + entry
    edits.append((at, at, entry))
    new_norm = norm
    for a, b, t in sorted(edits, reverse=True):
        new_norm = new_norm[:a] + t + new_norm[b:]
    after, after_diags = load_catalog(new_norm, fmt="yaml", name=str(path))
    got = after.get(name)
    ok = (
        got is not None
        and got.text.strip() == text.strip()
        and (got.description or None) == description
        and set(after) == set(before) | {name}
        and all(after[n].text == before[n].text for n in before)
        and _errors(after_diags) <= _errors(before_diags)
    )
    if not ok:
        raise SaveError(
            f"could not append to {path} safely; add this by hand:\n" + "\n".join(lines)
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, bom + _restore_endings(body, edits))
    except OSError as e:
        raise SaveError(f"cannot write {path}: {e.strerror or e}") from None


def _drop_value(text: str, start: int, end: int) -> tuple[int, int, str]:
    """An edit removing an empty value (`{}`, `~`) and the blanks before it."""
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    line_end = text.find("\n", end)
    rest = text[end : len(text) if line_end < 0 else line_end]
    if not rest.strip():
        end += len(rest)
    return start, end, ""


def _errors(diags: Iterable[Diagnostic]) -> set[tuple[str, str]]:
    return {(d.code, d.message) for d in diags if d.is_error}


def _line_end(text: str, index: int) -> int:
    """The index just after the line break ending the line that holds ``index``."""
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl + 1


def _last_index(node: Any) -> int:
    """The end offset of the last character of a YAML node (recursively)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        return max([node.start_mark.index, *(_last_index(n) for p in node.value for n in p)])
    if isinstance(node, yaml.SequenceNode):
        if node.flow_style:
            return int(node.end_mark.index)
        return max([node.start_mark.index, *(_last_index(n) for n in node.value)])
    return int(node.end_mark.index)


def _plain_yaml_ok(text: str) -> bool:
    """Whether ``where: TEXT`` reads back as exactly TEXT in YAML."""
    import yaml

    if not text or text != text.strip() or text[0] in "'\"[]{}&*!|>%@`#,?:-":
        return False
    try:
        return bool(yaml.safe_load(f"k: {text}\n") == {"k": text})
    except yaml.YAMLError:
        return False


# ---------------------------------------------------------------------------------------
# Completion
# ---------------------------------------------------------------------------------------


class Candidate(NamedTuple):
    """One completion: the text inserted (replacing the word being typed) and a note."""

    text: str
    meta: str = ""


_AGGS = ("count", "count_distinct", "sum", "avg", "min", "max", "first", "last")
_FIELD_AGGS = ("count_distinct", "sum", "avg", "min", "max")
_FUNCS = (
    "lower", "upper", "trim", "length", "abs", "round", "floor", "ceil", "coalesce",
    "year", "month", "day", "weekday", "days_since", "days_until_anniversary",
)  # fmt: skip
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
    "list": ("contains ", "not contains ", "is null", "is not null"),
    "duration": ("ago",),
    "stream": ("where ", "within ", ")"),
    "condition": (),
    "segment": (),
}  # fmt: skip
_TAIL = ("and ", "or ", "where ", "within ", "ago", ")", "]", "by ")
_OP_META = {
    "between ": "x between a and b (inclusive)",
    "in [": "one of a list",
    "not in [": "none of a list",
    "within ": "time within a duration of as-of",
    "ago": "the time that long before as-of",
    "where ": "a condition on each event",
    "by ": "the value to rank by",
}


_FUNC_KINDS: dict[str, str] = {
    **{f: "string" for f in ("lower", "upper", "trim")},
    **{f: "number" for f in _NUMERIC_FUNCS},
    "sum": "number",
    "avg": "number",
    "first": "time",
    "last": "time",
}


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


def _ident(tok: Any) -> str:
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
                    top.agg_stream = _ident(t)
            elif kind == "_WHERE":
                if top.agg and top.stream is None:
                    top.stream = top.agg_stream
                elif i >= 2 and toks[i - 2].type == "HAS":
                    frames.append(_Frame(False, _ident(toks[i - 1])))
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
        return _texpr_type(self.schema.traits_ir.get(name))

    def values_of(self, name: str) -> tuple[str, ...] | None:
        fields = self.stream.fields if self.stream is not None else self.schema.entity.fields
        f = fields.get(name)
        return f.values if f is not None else None

    def operand_type(self, toks: list[Any]) -> Type | str | None:
        """The type (or "stream") of the complete operand that ``toks`` ends with."""
        if not toks:
            return None
        last = toks[-1]
        kind = last.type
        before = toks[-2] if len(toks) >= 2 else None
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
                st = self.schema.streams.get(_ident(toks[-3]))
                f = st.fields.get(_ident(last)) if st is not None else None
                return f.type if f is not None else None
            return self.name_type(_ident(last))
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
                st = self.schema.streams.get(_ident(toks[j + 1]))
                fname = _ident(toks[j + 3])
                if st is not None and fname == st.time:
                    return Type.TIMESTAMP
                f = st.fields.get(fname) if st is not None else None
                return f.type if f is not None else None
            if func in (*_NUMERIC_FUNCS, "sum", "avg"):
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
        return _ident(toks[i])


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

    # Streams after `has` and inside an aggregate's parentheses.
    if prev_type == "HAS":
        return [Candidate(quote_name(n), f"event stream: {len(s.fields)} fields")
                for n, s in schema.streams.items()]  # fmt: skip
    if prev_type == "LPAR" and len(toks) >= 2 and toks[-2].type == "NAME":
        func = toks[-2].value.lower()
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
            if func in ("sum", "avg") and not t.is_numeric:
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
    else:
        for n, fd in schema.entity.fields.items():
            if _compatible(lhs, fd.type):
                out.append(Candidate(quote_name(n), _field_meta(fd.type, fd.values)))
        for n, tr in schema.traits.items():
            ttype = _texpr_type(schema.traits_ir.get(n))
            if _compatible(lhs, ttype):
                out.append(Candidate(quote_name(n), f"trait: {' '.join(tr.text.split())}"))
    if start:
        for phrase, meta in (
            (("not ", "negation"),)
            if ctx.stream
            else (
                ("has ", "has STREAM [where C] [within D]"),
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
        funcs += [*_AGGS, "percentile"]
    for fn in funcs:
        if _compatible(lhs, _FUNC_KINDS.get(fn)):
            out.append(Candidate(fn + "(", "aggregate" if fn in _AGGS else "function"))
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
        phrases += (")", "]")
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


def make_completer(schema: Schema) -> Completer:
    """A prompt_toolkit Completer over :func:`complete`."""
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.document import Document

    class SegqlCompleter(Completer):
        def get_completions(self, document: Document, complete_event: Any) -> Iterator[Completion]:
            word, cands = complete(document.text_before_cursor, schema)
            for c in cands:
                yield Completion(
                    c.text,
                    start_position=-len(word),
                    display=c.text.rstrip(),
                    display_meta=c.meta,
                )

    return SegqlCompleter()


# ---------------------------------------------------------------------------------------
# Highlighting
# ---------------------------------------------------------------------------------------

STYLE: dict[str, str] = {
    "segql.keyword": "ansiblue bold",
    "segql.name": "",
    "segql.unknown": "underline",
    "segql.function": "ansicyan",
    "segql.string": "ansigreen",
    "segql.number": "ansimagenta",
    "segql.duration": "ansiyellow",
    "segql.operator": "ansibrightblue",
    "segql.punctuation": "",
    "segql.comment": "ansibrightblack italic",
    "segql.error": "bg:ansired ansiwhite",
    "completion-menu.completion": "bg:#444444 #ffffff",
    "completion-menu.completion.current": "bg:#00aaaa #000000",
    "completion-menu.meta.completion": "bg:#333333 #aaaaaa",
    "completion-menu.meta.completion.current": "bg:#00aaaa #000000",
}
_TOKEN_CLASS = {
    "INT": "number",
    "DECIMAL": "number",
    "DATE": "number",
    "TIMESTAMP": "number",
    "DURATION": "duration",
    "STRING": "string",
    "LPAR": "punctuation",
    "RPAR": "punctuation",
    "LSQB": "punctuation",
    "RSQB": "punctuation",
    "COMMA": "punctuation",
    "DOT": "punctuation",
}


def known_names(schema: Schema) -> frozenset[str]:
    """Every name an expression may mention: fields, traits, streams and their fields,
    segments and functions."""
    names = {*schema.entity.fields, *schema.traits, *schema.streams, *schema.segments}
    for st in schema.streams.values():
        names.update(st.fields)
        names.add(st.time)
    names.update((*_FUNCS, *_AGGS, "percentile"))
    return frozenset(names)


def highlight(line: str, names: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """(style, text) fragments of one line. With ``names``, other names are marked
    ``class:segql.unknown``."""
    toks, fail = lex_all(line)
    out: list[tuple[str, str]] = []
    end = fail if fail is not None else len(line)
    pos = 0

    def gap(upto: int) -> None:
        text = line[pos:upto]
        if not text:
            return
        hash_at = text.find("#")
        if hash_at < 0:
            out.append(("", text))
        else:
            if hash_at:
                out.append(("", text[:hash_at]))
            out.append(("class:segql.comment", text[hash_at:]))

    for i, tok in enumerate(toks):
        gap(tok.start_pos)
        kind = tok.type
        value = str(tok.value)
        if kind in ("NAME", "QUOTED_NAME"):
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if kind == "NAME" and nxt is not None and nxt.type == "LPAR":
                cls = "function"
            elif names is not None and _ident(tok) not in names:
                cls = "unknown"
            else:
                cls = "name"
        elif value.lower() in KEYWORDS and kind != "STRING":
            cls = "keyword"
        elif kind in _TOKEN_CLASS:
            cls = _TOKEN_CLASS[kind]
        else:
            cls = "operator"
        out.append((f"class:segql.{cls}", value))
        pos = tok.end_pos
    gap(end)
    if fail is not None:
        out.append(("class:segql.error", line[fail:]))
    return out


def make_lexer(schema: Schema | None = None) -> Lexer:
    """A prompt_toolkit Lexer over :func:`highlight`."""
    from prompt_toolkit.document import Document
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.lexers import Lexer

    class SegqlLexer(Lexer):
        def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
            lines = document.lines
            if lines and lines[0].lstrip().startswith(":"):
                return lambda i: [("class:segql.keyword", lines[i])] if i < len(lines) else []
            names = known_names(schema) if schema is not None else None
            cache: dict[int, StyleAndTextTuples] = {}

            def get_line(i: int) -> StyleAndTextTuples:
                if i not in cache:
                    cache[i] = list(highlight(lines[i], names)) if i < len(lines) else []
                return cache[i]

            return get_line

    return SegqlLexer()


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------


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
    """Run the REPL until ``:quit``, Ctrl-D or end of input; returns an exit code.

    ``input``/``output`` are prompt_toolkit Input/Output objects (for tests and
    embedding), or text streams: a text stream as ``input`` (or a stdin that is not a
    terminal) selects script mode: one expression or meta-command per line, plain
    results, exit code 1 if any line failed."""
    from prompt_toolkit.input import Input

    if input is not None and not isinstance(input, Input):
        return _script(schema, db, catalog_path, as_of, input, output)
    if input is None and not (_isatty(sys.stdin) and _isatty(sys.stdout)):
        return _script(schema, db, catalog_path, as_of, sys.stdin, output)
    return _interactive(schema, db, catalog_path, as_of, input, output, history_path)


def _script(
    schema: Schema,
    db: Database,
    catalog_path: Path | None,
    as_of: dt.datetime | None,
    stream: Any,
    output: Any,
) -> int:
    out = output if output is not None else sys.stdout
    err = output if output is not None else sys.stderr
    state = Session(
        schema,
        db,
        catalog_path=catalog_path,
        as_of=as_of,
        out=out,
        err=err,
        color=_isatty(err) and _color_allowed(),
        file=getattr(stream, "name", None) or "<input>",
    )
    ok = True
    for lineno, line in enumerate(stream, start=1):
        try:
            ok = state.handle(line, lineno) and ok
        except EOFError:
            break
        except Exception as e:  # keep going: one bad line must not end a script
            state.complain(f"line {lineno}: internal error: {type(e).__name__}: {e}")
            ok = False
    return 0 if ok else 1


def _history_file(history_path: Path | None) -> Path:
    if history_path is not None:
        return history_path
    env = os.environ.get("SEGQL_HISTORY")
    return Path(env).expanduser() if env else Path.home() / ".segql_history"


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
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.filters import is_searching
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.styles import Style

    path = _history_file(history_path)
    history: History
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        history = FileHistory(str(path))
    except OSError:
        history = InMemoryHistory()

    bindings = KeyBindings()
    editing = ~is_searching  # while Ctrl-R searches, Enter and Tab keep their search meaning

    @bindings.add("enter", filter=editing)
    def _enter(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        state_ = buf.complete_state
        if state_ is not None and state_.current_completion is not None:
            buf.complete_state = None  # Enter accepts the chosen completion
            return
        text = buf.text
        last_line = text.rsplit("\n", 1)[-1]
        forced = "\n" in text and not last_line.strip()  # Enter on an empty line runs it
        if needs_more(text) and not forced:
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    @bindings.add("tab", filter=editing)
    def _tab(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        state_ = buf.complete_state
        if state_ is not None and len(state_.completions) == 1:
            buf.apply_completion(state_.completions[0])  # the only choice: take it
        elif state_ is not None:
            buf.complete_next()
        else:
            buf.start_completion(insert_common_part=True)

    @bindings.add("escape", "enter", filter=editing)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    session: PromptSession[str] = PromptSession(
        history=history,
        lexer=make_lexer(schema),
        completer=make_completer(schema),
        complete_while_typing=True,
        auto_suggest=AutoSuggestFromHistory(),
        style=Style.from_dict(STYLE),
        include_default_pygments_style=False,
        key_bindings=bindings,
        multiline=True,
        prompt_continuation=lambda width, line_number, wrap_count: "." * (width - 1) + " ",
        input=input,
        output=output,
    )
    tty = _output_is_tty(session.output)
    color = _color_allowed() and tty
    writer = _PromptWriter(session, color)
    state = Session(
        schema,
        db,
        catalog_path=catalog_path,
        as_of=as_of,
        out=writer,
        color=color,
        pager=make_pager(session.output, writer.flush) if tty else None,
    )
    state.paging = state.paging and paging_default()
    counts = ", ".join(
        _plural(n, noun)
        for n, noun in (
            (len(schema.entity.fields), "field"),
            (len(schema.traits), "trait"),
            (len(schema.streams), "event stream"),
            (len(schema.segments), "segment"),
        )
    )
    state.say(f"segql — {counts}. :help for help, Tab completes, Ctrl-D leaves.")
    state.say(as_of_text(as_of))
    if catalog_path is not None and not catalog_path.exists():
        state.say(f"{catalog_path} does not exist yet: :save NAME creates it")
    while True:
        try:
            text = session.prompt("segql> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            state.handle(text)
        except EOFError:
            break
        except KeyboardInterrupt:  # Ctrl-C while an input ran: back to the prompt
            state.interrupted()
        except Exception as e:  # the session survives anything one input does
            state.complain(f"internal error: {type(e).__name__}: {e}")
    return 0


_OFF = ("off", "no", "none", "0", "false")


def paging_default() -> bool:
    """Paging is on unless ``SEGQL_PAGER`` says off (``off``, ``no``, ``0``, …)."""
    return os.environ.get("SEGQL_PAGER", "").strip().lower() not in _OFF


def pager_command() -> list[str] | None:
    """The pager: ``$SEGQL_PAGER``, else ``$PAGER``, else ``less -FRX`` when installed
    (empty variables count as unset)."""
    import shlex
    import shutil

    for var in ("SEGQL_PAGER", "PAGER"):
        value = os.environ.get(var, "").strip()
        if value and value.lower() not in _OFF:
            try:
                return shlex.split(value) or None
            except ValueError:
                return None
    less = shutil.which("less")
    return [less, "-FRX"] if less else None


def screen_rows(text: str, columns: int) -> int:
    """Terminal rows ``text`` takes at ``columns`` wide (long lines wrap)."""
    from prompt_toolkit.utils import get_cwidth

    columns = max(1, columns)
    return sum(max(1, -(-get_cwidth(line) // columns)) for line in text.split("\n"))


def make_pager(output: Any, flush: Callable[[], None]) -> Callable[[str], bool]:
    """A function that shows text through the pager when it is taller than the terminal
    (leaving a row for the prompt); False when it did not (the caller prints it)."""
    import signal
    import subprocess

    def page(text: str) -> bool:
        size = output.get_size()
        if screen_rows(text, size.columns) < size.rows:
            return False
        command = pager_command()
        if command is None:
            return False
        flush()
        env = dict(os.environ)
        env.setdefault("LESSCHARSET", "utf-8")
        # Ctrl-C belongs to the pager (less uses it to stop a search): keep it from
        # interrupting us meanwhile. A handler, unlike SIG_IGN, is not inherited.
        try:
            previous = signal.signal(signal.SIGINT, lambda *_: None)
        except ValueError:  # not the main thread
            previous = None
        try:
            subprocess.run(command, input=(text + "\n").encode("utf-8"), env=env, check=False)
        except OSError:
            return False
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return True

    return page


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _output_is_tty(output: Any) -> bool:
    try:
        return os.isatty(output.fileno())
    except (AttributeError, ValueError, OSError, NotImplementedError):
        return False


class _PromptWriter:
    """A text stream that prints through the prompt_toolkit session's output."""

    def __init__(self, session: Any, color: bool) -> None:
        self.session = session
        self.color = color
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        if "\n" in self._buf:
            done, _, self._buf = self._buf.rpartition("\n")
            self._emit(done)
        return len(text)

    def flush(self) -> None:
        if self._buf:
            text, self._buf = self._buf, ""
            self._emit(text)

    def _emit(self, text: str) -> None:
        from prompt_toolkit import print_formatted_text
        from prompt_toolkit.formatted_text import ANSI

        shown: Any = ANSI(text) if self.color else text
        print_formatted_text(shown, output=self.session.output)

    def isatty(self) -> bool:
        return self.color
