"""Opening, tuning and locking down a DuckDB connection; running a query cancellably."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from segql.core.diagnostics import Diagnostic, EngineError, Interrupted

T = TypeVar("T")


def perfect_hash_bits(threads: int, memory: int) -> int:
    """The widest group key (in bits) DuckDB may aggregate into a perfect hash table.

    A perfect table is an array indexed by the key, allocated at full size by each thread:
    2**bits slots of up to ~128 bytes of aggregate state. Segments aggregate event streams
    by the entity key, usually a dense integer id, where the array beats hashing by up to
    2x, so allow it while all threads' arrays stay within a sixteenth of memory (see
    docs/performance.md). DuckDB's default is 12 bits."""
    bits = 12
    while bits < 24 and (2 ** (bits + 1)) * 128 * max(1, threads) <= memory // 16:
        bits += 1
    return bits


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def open_connection(db: str | Path | None, *, read_only: bool) -> Any:
    """A new connection to ``db`` (None: in memory), tuned for segment queries."""
    import duckdb

    # Extensions are never installed or loaded on the user's behalf: a `table:` such as
    # `https://…` or `x.xlsx` must not fetch code from the network.
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    try:
        if db is None:
            con = duckdb.connect(config=config)
        else:
            path = Path(db)
            if read_only and not path.is_file():
                raise EngineError(
                    Diagnostic(
                        code="missing-database",
                        message=f"database file `{path}` does not exist"
                        if not path.exists()
                        else f"`{path}` is not a database file",
                        hints=("pass the path of a DuckDB database file with --db",),
                    )
                )
            con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as e:
        raise EngineError(
            Diagnostic(code="engine", message=f"cannot open the database: {first_line(e)}")
        ) from None
    if is_locked(con):  # a second connection to a file another segql Database locked
        return con
    # Python objects are visible to SQL only when registered by name.
    con.execute("SET python_enable_replacements = false")
    # DuckDB's own progress bar writes into the output stream; the CLI reports progress.
    con.execute("SET enable_progress_bar = false")
    # Members are a set: without keeping the table's order, DuckDB streams an export in
    # constant memory (1M-member CSV: +20 MB instead of +119 MB, bench/bench_memory.py).
    con.execute("SET preserve_insertion_order = false")
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    bits = perfect_hash_bits(threads, _physical_memory())
    con.execute(f"SET perfect_ht_threshold = {bits}")
    return con


def lock_down(con: Any, readable: Sequence[Path], export_dir: Path) -> bool:
    """Files readable only under ``readable``, writable only in ``export_dir``, and the
    configuration locked so that no later statement can lift either. False when the
    instance was locked already (by another connection to the same file)."""
    if is_locked(con):
        return False
    dirs = [str(r) + os.sep for r in readable] + [str(export_dir) + os.sep]
    con.execute("SET allowed_directories = ?", [dirs])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return True


def is_locked(con: Any) -> bool:
    """Whether the configuration of ``con``'s instance is locked (by segql)."""
    rows = con.execute("SELECT current_setting('lock_configuration')").fetchall()
    return bool(rows and rows[0][0])


def run_cancellable(
    con: Any, work: Callable[[], T], timeout: float | None, roots: Sequence[Path]
) -> T:
    """Run ``work`` (a query and its fetch) on a worker thread while this thread waits,
    so that Ctrl-C and the timeout cancel DuckDB at once (DuckDB notices a signal only
    between tasks, which can be minutes apart, and Python's default handler kills
    the query thread); engine failures become diagnostics (``roots`` name the readable
    folders in a refusal)."""
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, work()))
        except BaseException as e:  # handed to the waiting thread
            box.append((False, e))

    hit = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        hit.set()
        con.interrupt()

    old: Any = None
    if threading.current_thread() is threading.main_thread():
        old = signal.getsignal(signal.SIGINT)
        if old is signal.SIG_IGN:  # e.g. a background job: Ctrl-C is not ours
            old = None
        else:
            signal.signal(signal.SIGINT, on_sigint)
    worker = threading.Thread(target=run, name="segql-query", daemon=True)
    expired = False
    try:
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            expired = True
            con.interrupt()
            worker.join()
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if hit.is_set():
        raise interrupted()
    ok, value = box.pop()
    if ok:
        return cast(T, value)
    error = _failure(value, timeout if expired else None, roots)
    del value  # DuckDB's exception holds the failed result; the connection needs it gone
    raise error from None


def _failure(e: BaseException, expired: float | None, roots: Sequence[Path]) -> BaseException:
    import duckdb

    if isinstance(e, duckdb.InterruptException):
        if expired is not None:
            return EngineError(
                Diagnostic(
                    code="timeout",
                    message=f"the query ran longer than the timeout ({expired:g} s) and "
                    "was stopped",
                    hints=("raise the timeout (--timeout SECONDS) or narrow the segment",),
                )
            )
        return interrupted()
    if isinstance(e, duckdb.PermissionException):
        return EngineError(
            Diagnostic(
                code="file-not-allowed",
                message=f"DuckDB may not read this: {first_line(e)}",
                hints=(
                    "segql reads files only through `file:` sources under the allowed "
                    "folders: " + ", ".join(f"`{r}`" for r in roots),
                ),
            )
        )
    if isinstance(e, duckdb.Error):
        hints: tuple[str, ...] = ()
        if isinstance(e, duckdb.ConversionException | duckdb.BinderException):
            hints = ("check that the column types in the database match the schema",)
        return EngineError(
            Diagnostic(
                code="engine",
                message=f"DuckDB could not run the segment: {first_line(e)}",
                hints=hints,
            )
        )
    if isinstance(e, RuntimeError) and "interrupt" in str(e).lower():
        return interrupted()
    return e


def first_line(e: BaseException) -> str:
    lines = str(e).splitlines()
    return lines[0] if lines else type(e).__name__


def interrupted() -> Interrupted:
    return Interrupted(Diagnostic(code="interrupted", message="the query was interrupted"))
