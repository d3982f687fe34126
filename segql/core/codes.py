"""Every diagnostic code, registered once: the code, the stages that report it and one line
saying what it means. A :class:`~segql.core.diagnostics.Diagnostic` with an unregistered code
cannot be made; docs/diagnostics.md holds :func:`markdown`'s table (a test keeps them
equal)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Stage(enum.Enum):
    LANG = "syntax"
    CHECK = "checker"
    SQL = "sql"
    EVAL = "in-process"
    ENGINE = "engine"
    CONFIG = "config"
    PROJECT = "project"
    TOOLS = "tools"


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    code: str
    stages: tuple[Stage, ...]
    summary: str


_L, _C, _S, _E, _N = Stage.LANG, Stage.CHECK, Stage.SQL, Stage.EVAL, Stage.ENGINE
_F, _P, _T = Stage.CONFIG, Stage.PROJECT, Stage.TOOLS


def _c(code: str, stages: tuple[Stage, ...], summary: str) -> Code:
    return Code(code=code, stages=stages, summary=summary)


_TABLE = (
    # the language: characters and tokens
    _c("syntax", (_L,), "the text is not a segql expression at this point"),
    _c("empty", (_L,), "there is no expression (empty, or only comments)"),
    _c("unterminated-string", (_L,), "a string is not closed before the end of the line"),
    _c("unterminated-name", (_L,), "a `backticked` name is not closed"),
    _c("invalid-escape", (_L,), "an unknown backslash escape in a string"),
    _c("invalid-character", (_L, _C, _S), "NUL or a lone surrogate, which SQL cannot carry"),
    _c("reserved-table", (_C, _S), "an unqualified table named `segql_…`, as segql's CTEs are"),
    _c("invalid-number", (_L,), "a malformed or out-of-range number literal"),
    _c("invalid-date", (_L,), "a date literal that is not a real calendar date"),
    _c("invalid-timestamp", (_L,), "a timestamp literal that is not a real instant"),
    _c("invalid-duration", (_L,), "a duration with an unknown unit or malformed amount"),
    _c("ambiguous-duration", (_L,), "`m`: write `min` (minutes) or `mo` (months)"),
    _c("negative-duration", (_L,), "a duration written with a minus sign"),
    _c("unclosed-bracket", (_L,), "a `(` or `[` without its closing bracket"),
    _c("unbalanced-bracket", (_L,), "a closing bracket without its opening one"),
    _c("chained-comparison", (_L,), "`a < b < c`: comparisons do not chain; join them with `and`"),
    _c("misplaced-clause", (_L,), "a `where`/`within` clause where it cannot belong"),
    _c("bad-aggregate", (_L, _C), "an aggregate over something that is not a stream or its field"),
    _c("limit-exceeded", (_L, _C, _E, _S), "bigger or deeper than the limits allow"),
    # the checker: names, types and places
    _c("unknown-name", (_C, _E, _N), "no field, trait, stream or column of that name"),
    _c("unknown-function", (_C,), "no function of that name"),
    _c("unknown-stream", (_C,), "no event stream of that name"),
    _c("unknown-segment", (_C, _T), "no segment of that name in the catalog"),
    _c("unknown-value", (_C,), "a value the field declares no `values:` entry for (a warning)"),
    _c("type-mismatch", (_C,), "values of types that cannot be compared or combined"),
    _c("not-boolean", (_C,), "a condition that is not true or false (e.g. a number)"),
    _c("not-a-stream", (_C,), "an aggregate or `has` over a name that is not a stream"),
    _c("wrong-arguments", (_C, _S), "wrong number or kinds of arguments"),
    _c("wrong-scope", (_C,), "an event field used outside an aggregate over its stream"),
    _c("nested-aggregate", (_C,), "an aggregate inside another aggregate's condition"),
    _c("misplaced-duration", (_C,), "a duration where a value is needed (write `ago` or `within`)"),
    _c("misplaced-list", (_C,), "a list literal outside `in` or `contains`"),
    _c("misplaced-stream", (_C,), "a stream used as a value"),
    _c("misplaced-segment", (_C,), "`in segment` inside an event condition"),
    _c("misplaced-event-field", (_C,), "an event field in a contact-level position"),
    _c("null-comparison", (_C,), "`= null` is never true; write `is null`"),
    _c("null-in-list", (_C,), "`null` inside `in [...]` never matches"),
    _c("bad-percent", (_C,), "a `top` percentage outside 0–100"),
    _c("out-of-range", (_C, _E), "a number, time or rounding that no engine can represent"),
    _c("cycle", (_C,), "traits, segments or segmentations that refer to each other in a circle"),
    _c("unreachable-class", (_C,), "a segmentation's class that an earlier class always takes"),
    _c("small-class", (_N,), "profile: a class under 1% of the contacts or under 100 of them"),
    _c("many-classes", (_N,), "profile: a segmentation with more than 12 classes"),
    _c("weak-separation", (_N,), "profile: no metric with η² of 0.2 or more"),
    _c("sample-ratio-mismatch", (_N,), "results: arm sizes unlike their weights (χ² p < 0.001)"),
    _c("experiment-running", (_N,), "results: the goal's window has not ended yet"),
    _c("small-arm", (_N,), "results: an arm with fewer than 30 contacts"),
    # back ends
    _c("unknown-dialect", (_S,), "no SQL dialect of that name"),
    _c("unsupported-construct", (_S,), "the dialect cannot express this construct"),
    _c("file-source", (_S, _N), "a `file:` source SQL cannot name here"),
    _c("needs-population", (_E,), "`percentile`/`top` need every contact; run on an engine"),
    _c("bad-input", (_E,), "a contact or event value of the wrong type or out of range"),
    _c("engine", (_N,), "the database engine reported an error"),
    _c("missing-database", (_N,), "the database file does not exist"),
    _c("unknown-engine", (_N,), "a database URL of a kind segql does not run on"),
    _c("missing-extra", (_N,), "the engine's Python client is not installed (the hint names it)"),
    _c("missing-table", (_N,), "a schema table is not in the database"),
    _c("missing-column", (_N,), "a schema column is not in its table"),
    _c("file-not-allowed", (_N,), "a `file:` source outside the allowed folders"),
    _c("bad-fields", (_N, _T), "member fields asked for that are unknown or repeated"),
    _c("bad-output", (_N, _T), "the output file cannot be written"),
    _c("unknown-channel", (_C, _N), "no channel of that name in the schema's `channels:`"),
    _c("bad-export", (_N, _T), "an export option that cannot apply (`hash` without a channel)"),
    _c("timeout", (_N,), "the query ran longer than the timeout"),
    _c("interrupted", (_N, _T), "the query was interrupted (Ctrl-C)"),
    # snapshots (docs/snapshots.md)
    _c("cannot-write", (_N,), "a snapshot on a read-only database, or on Spark or ClickHouse"),
    _c("snapshot-target", (_N,), "a snapshot of something without a name (or a name twice)"),
    _c("snapshot-table", (_N,), "the membership table is not one segql wrote (other columns)"),
    _c("snapshot-order", (_N,), "a snapshot at an as_of before that segment's latest one"),
    _c("no-snapshot", (_N,), "changes of a segment the membership table holds no snapshot of"),
    # configuration files
    _c("config-io", (_F,), "the file cannot be read, is not UTF-8, or has an unknown format"),
    _c("config-syntax", (_F,), "the file is not valid YAML, TOML or JSON"),
    _c("duplicate-key", (_F,), "a key appears twice in one mapping"),
    _c("schema-missing-key", (_F,), "a required schema key is missing"),
    _c("schema-unknown-key", (_F,), "a key the schema format does not have"),
    _c("schema-bad-value", (_F,), "a schema value of the wrong kind"),
    _c("schema-bad-type", (_F,), "an unknown column type"),
    _c("schema-bad-name", (_F,), "an empty name, or one with a line break or control character"),
    _c("schema-bad-timezone", (_F,), "an unknown IANA time zone"),
    _c("schema-duplicate-name", (_F,), "two fields, traits, streams or segments share a name"),
    _c("schema-unknown-field", (_F,), "a channel names a profile field the entity does not have"),
    _c("schema-bad-channel", (_F,), "a channel's address is not a string field, or its consent "
       "not a boolean one"),
    _c("broken-segment", (_F, _C), "a segment with errors is used (lenient loading skips it)"),
    _c("broken-segmentation", (_C,), "a segmentation with errors is used"),
    _c("broken-experiment", (_C, _N), "an experiment with errors is used"),
    _c("broken-trait", (_C,), "a trait with errors, used by the expression being checked"),
    _c("fmt-kept", (_F,), "`fmt` left an expression as written (it has `#` comments)"),
    _c("project-file", (_P,), "the project file cannot be read or parsed"),
    _c("project-unknown-key", (_P,), "a key the project file does not have"),
    _c("project-bad-value", (_P,), "a project setting of the wrong kind"),
    _c("internal", (_F, _T), "a bug in segql; please report it"),
)  # fmt: skip

CODES: dict[str, Code] = {c.code: c for c in _TABLE}


def markdown() -> str:
    """The table of docs/diagnostics.md."""
    rows = ["| code | reported by | meaning |", "| --- | --- | --- |"]
    for c in _TABLE:
        stages = ", ".join(s.value for s in c.stages)
        rows.append(f"| `{c.code}` | {stages} | {c.summary} |")
    return "\n".join(rows) + "\n"
