"""The project file (CONTRACT §9): defaults for every command run in a folder.

``segql.toml``, or a ``[tool.segql]`` table in ``pyproject.toml``, found from the current
directory upwards (the nearest wins). It names the schema, the catalogs, the database,
the dialect and the as_of; paths in it are relative to its own folder. Options given on
the command line override it. The format is documented in docs/cli.md.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segql.core.diagnostics import NO_SPAN, Diagnostic, SchemaError, Span

__all__ = ["PROJECT_FILE", "Project", "find_project", "load_project", "parse_as_of"]

PROJECT_FILE = "segql.toml"
KEYS = ("schema", "catalogs", "db", "dialect", "as_of", "allow_files", "limits")


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """A loaded project file; paths are absolute."""

    path: Path
    schema: Path | None = None
    catalogs: tuple[Path, ...] = ()
    db: str | None = None
    dialect: str | None = None
    as_of: dt.datetime | None = None
    allow_files: tuple[Path, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()  # overrides of segql.Limits' defaults

    @property
    def folder(self) -> Path:
        return self.path.parent


def parse_as_of(text: str) -> dt.datetime:
    """An ISO date (midnight UTC) or timestamp (UTC unless it has a zone), in UTC.

    Raises ValueError with a message for people."""
    s = text.strip()
    try:
        if "T" in s or " " in s:
            value = dt.datetime.fromisoformat(s.replace("z", "Z").replace("Z", "+00:00"))
        else:
            d = dt.date.fromisoformat(s)
            value = dt.datetime(d.year, d.month, d.day)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"`{text}` is outside the years 1 to 9999 in UTC") from None
    except ValueError:
        raise ValueError(
            f"`{text}` is not a date or time: use an ISO date (2026-06-01) or timestamp "
            "(2026-06-01T12:00:00, UTC unless it has a zone such as Z or +02:00)"
        ) from None


def find_project(start: Path | None = None) -> Path | None:
    """The nearest ``segql.toml`` or ``pyproject.toml`` with ``[tool.segql]``, from
    ``start`` (default: the current directory) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and "segql" in tool


def load_project(path: str | Path) -> Project:
    """Read a project file (``segql.toml`` or a ``pyproject.toml``); a directory means
    the project file in it. Raises :class:`SchemaError` with positioned diagnostics."""
    p = Path(path)
    if p.is_dir():
        found = p / PROJECT_FILE
        if not found.is_file() and (p / "pyproject.toml").is_file():
            found = p / "pyproject.toml"
        p = found
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _error(name, None, NO_SPAN, f"`{p}` is not UTF-8 text") from None
    except OSError as e:
        raise _error(
            name,
            None,
            NO_SPAN,
            f"cannot read the project file `{p}`: {e.strerror or e}",
            "create one with `segql init`, or pass the folder holding segql.toml",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _error(name, text, _toml_span(text, e), f"invalid TOML: {e}") from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise _error(name, text, NO_SPAN, f"invalid TOML: {e}") from None
    table: Any = data
    prefix = ""
    if p.name == "pyproject.toml":
        table = data.get("tool", {}).get("segql") if isinstance(data.get("tool"), dict) else None
        prefix = "tool.segql."
        if not isinstance(table, dict):
            raise _error(name, text, NO_SPAN, "`pyproject.toml` has no `[tool.segql]` table")
    return _build(p.resolve(), table, text, prefix)


def _build(path: Path, table: dict[str, Any], text: str, prefix: str) -> Project:
    diags: list[Diagnostic] = []
    base = path.parent

    def report(key: str, message: str, *hints: str) -> None:
        diags.append(
            Diagnostic(
                code="project-bad-value",
                message=message,
                span=_key_span(text, key),
                hints=hints,
                file=str(path),
                source=text,
            )
        )

    def text_value(key: str) -> str | None:
        v = table.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip() or "\x00" in v:
            report(key, f"`{prefix}{key}` must be non-empty text")
            return None
        return v

    def paths(key: str) -> tuple[Path, ...]:
        v = table.get(key)
        if v is None:
            return ()
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(
            isinstance(i, str) and i.strip() and "\x00" not in i for i in items
        ):
            report(key, f"`{prefix}{key}` must be a file name or a list of file names")
            return ()
        return tuple(_resolve(base, i) for i in items)

    for key in table:
        if key not in KEYS:
            near = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean `{near[0]}`?" if near else "keys: " + ", ".join(KEYS)
            diags.append(
                Diagnostic(
                    code="project-unknown-key",
                    message=f"unknown key `{prefix}{key}` in the project file",
                    span=_key_span(text, key),
                    hints=(hint,),
                    file=str(path),
                    source=text,
                )
            )
    schema = text_value("schema")
    db = text_value("db")
    dialect = text_value("dialect")
    as_of_text = table.get("as_of")
    as_of: dt.datetime | None = None
    if isinstance(as_of_text, dt.datetime | dt.date):
        as_of_text = as_of_text.isoformat()
    if as_of_text is not None:
        if not isinstance(as_of_text, str):
            report("as_of", f"`{prefix}as_of` must be a date or time")
        else:
            try:
                as_of = parse_as_of(as_of_text)
            except ValueError as e:
                report("as_of", f"`{prefix}as_of`: {e}")
    catalogs = paths("catalogs")
    allow = paths("allow_files")
    limits = _limits(table.get("limits"), prefix, report)
    if diags:
        raise SchemaError(diags)
    return Project(
        path=path,
        schema=_resolve(base, schema) if schema else None,
        catalogs=catalogs,
        db=_db(base, db) if db else None,
        dialect=dialect,
        as_of=as_of,
        allow_files=allow,
        limits=limits,
    )


def _limits(value: Any, prefix: str, report: Any) -> tuple[tuple[str, int], ...]:
    """``limits = {max_length = 20000, …}``: names of :class:`segql.Limits` fields."""
    import dataclasses

    from segql.core.limits import Limits

    if value is None:
        return ()
    names = [f.name for f in dataclasses.fields(Limits)]
    if not isinstance(value, dict):
        report("limits", f"`{prefix}limits` must be a table such as {{max_length = 20000}}")
        return ()
    out = []
    for name, n in value.items():
        if name not in names:
            near = difflib.get_close_matches(name, names, n=1)
            report(
                "limits",
                f"unknown limit `{name}` in `{prefix}limits`",
                f"did you mean `{near[0]}`?" if near else "limits: " + ", ".join(names),
            )
        elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
            report("limits", f"the limit `{name}` must be a positive whole number")
        else:
            out.append((name, n))
    return tuple(out)


def _resolve(base: Path, text: str) -> Path:
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


def _db(base: Path, text: str) -> str:
    """A database: a path relative to the project, or a URL kept as written."""
    from segql.engines.url import is_path

    if not is_path(text):  # postgresql://…, sqlite:///…, spark:local[2], chdb:, …
        return text
    return str(_resolve(base, text))


def _error(file: str, text: str | None, span: Span, message: str, *hints: str) -> SchemaError:
    return SchemaError(
        Diagnostic(
            code="project-file",
            message=message,
            span=span,
            hints=hints,
            file=file,
            source=text,
        )
    )


def _key_span(text: str, key: str) -> Span:
    """The line that assigns ``key`` in segql's table (the file's top level, or the
    ``[tool.segql]`` table of a pyproject.toml)."""
    from segql.core.diagnostics import span_at

    offset = 0
    ours = "[tool.segql]" not in text  # a segql.toml: the top level is ours
    for line in text.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("["):
            ours = stripped.split("#")[0].strip() == "[tool.segql]"
        elif ours and stripped.startswith((key + " ", key + "=", f'"{key}"')):
            start = offset + len(line) - len(stripped)
            return span_at(text, start, start + len(key))
        offset += len(line) + 1
    return NO_SPAN


def _toml_span(text: str, e: tomllib.TOMLDecodeError) -> Span:
    from segql.core.diagnostics import span_at

    lineno = getattr(e, "lineno", None)
    colno = getattr(e, "colno", None)
    if not lineno:
        return NO_SPAN
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: lineno - 1]) + max(0, (colno or 1) - 1)
    return span_at(text, offset, offset + 1)
