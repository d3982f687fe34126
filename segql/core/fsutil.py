"""Files segql writes: atomically, and in the one cache directory.

Every file segql writes for a user (formatted catalogs, exports, REPL saves, project files)
goes through :func:`write_atomic` or :func:`atomic_path`: the new content is written to a
temporary file in the same directory and renamed over the target, so a failed or
interrupted write leaves the old file (or no file) behind, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "cache_dir", "parser_cache_enabled", "write_atomic"]


@contextlib.contextmanager
def atomic_path(target: str | Path, *, keep_mode: bool = True) -> Iterator[Path]:
    """A temporary path beside ``target``; renamed over it when the block succeeds,
    removed when it fails. An existing target keeps its permission bits."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        mode: int | None = None
        if keep_mode:
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(target.stat().st_mode)
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_atomic(target: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write ``data`` to ``target`` in one step (text is written as given: no newline
    translation, so CRLF files stay CRLF)."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def cache_dir() -> Path:
    """segql's cache directory: ``$SEGQL_CACHE_DIR``, else ``$XDG_CACHE_HOME/segql``, else
    ``~/.cache/segql``. An empty variable counts as unset (as the XDG spec says)."""
    env = os.environ.get("SEGQL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "segql"
    return Path.home() / ".cache" / "segql"


def parser_cache_enabled() -> bool:
    """The parser's analysis cache is on unless ``SEGQL_NO_CACHE`` is set to a true value
    (``1``, ``true``, ``yes``, ``on``); empty, ``0``, ``false``, ``no`` and ``off`` leave it on,
    so each value means one thing."""
    value = os.environ.get("SEGQL_NO_CACHE", "").strip().lower()
    return value in ("", "0", "false", "no", "off")
