"""Running the REPL: on a terminal a prompt_toolkit session (history, paging, Ctrl-C),
otherwise one input per line so it can be scripted. prompt_toolkit is imported only inside
functions: importing this module is cheap."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segql.tools.repl.completion import make_completer
from segql.tools.repl.highlighting import STYLE, make_lexer
from segql.tools.repl.prefix import needs_more
from segql.tools.repl.session import Session, as_of_text, color_allowed, isatty

if TYPE_CHECKING:
    from segql.core.schema import Schema
    from segql.engine import Database


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
    if input is None and not (isatty(sys.stdin) and isatty(sys.stdout)):
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
        color=isatty(err) and color_allowed(),
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

    states: list[Session] = []  # the session state, once made: its schema grows by :save
    session: PromptSession[str] = PromptSession(
        history=history,
        lexer=make_lexer(lambda: states[0].schema if states else schema),
        completer=make_completer(lambda: states[0].schema if states else schema),
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
    color = color_allowed() and tty
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
    states.append(state)
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
