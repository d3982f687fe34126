"""Diagnostics as data (CONTRACT §4.3): fields, JSON, rendering, and the exceptions that
carry them."""

from __future__ import annotations

import json
import re

import pytest

import segql
from segql.core.diagnostics import (
    Diagnostic,
    Severity,
    Span,
    render,
    render_all,
    span_at,
)

CONTRACT_FIELDS = {
    "code",
    "severity",
    "message",
    "hints",
    "line",
    "column",
    "end_line",
    "end_column",
    "start",
    "end",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error(text: str) -> segql.SegqlError:
    with pytest.raises(segql.SegqlError) as info:
        segql.parse(text)
    return info.value


def _from_dict(d: dict[str, object]) -> Diagnostic:
    """What a host would do with the JSON: rebuild the diagnostic."""
    span_keys = ("start", "end", "line", "column", "end_line", "end_column")
    return Diagnostic(
        code=str(d["code"]),
        message=str(d["message"]),
        severity=Severity(d["severity"]),
        hints=tuple(d["hints"]),  # type: ignore[arg-type]
        file=d["file"],  # type: ignore[arg-type]
        span=Span(**{k: d[k] for k in span_keys}),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "text", ["x == 1", "a > 1 and\n  b == 2", "x = 'abc", "", "{(", "x < 30days", "not " * 65 + "x"]
)
def test_to_dict_and_to_json_carry_every_contract_field_and_round_trip(text: str) -> None:
    d = _error(text).diagnostic
    as_dict = d.to_dict()
    assert set(as_dict) >= CONTRACT_FIELDS
    for key in CONTRACT_FIELDS - {"hints", "severity"}:
        assert as_dict[key] == getattr(d, key), key
    assert as_dict["severity"] == "error" and d.severity is Severity.ERROR
    assert as_dict["hints"] == list(d.hints)
    assert json.loads(d.to_json()) == as_dict
    assert _from_dict(json.loads(d.to_json())) == d


def test_a_hand_made_diagnostic_round_trips_with_every_field_set() -> None:
    d = Diagnostic(
        code="type-mismatch",
        message="`>` compares 'é' with a number",
        severity=Severity.WARNING,
        span=Span(start=10, end=14, line=2, column=3, end_line=2, end_column=7),
        hints=("did you mean `30d`?", "quotes: ' \" and `"),
        file="segments.yaml",
    )
    out = json.loads(d.to_json())
    assert out == {
        "code": "type-mismatch",
        "severity": "warning",
        "message": "`>` compares 'é' with a number",
        "hints": ["did you mean `30d`?", "quotes: ' \" and `"],
        "file": "segments.yaml",
        "start": 10,
        "end": 14,
        "line": 2,
        "column": 3,
        "end_line": 2,
        "end_column": 7,
    }
    assert "é" in d.to_json()  # JSON keeps unicode readable
    assert _from_dict(out) == d
    assert (d.line, d.column, d.end_line, d.end_column, d.start, d.end) == (2, 3, 2, 7, 10, 14)
    assert not d.is_error


def test_render_points_at_the_problem() -> None:
    d = _error("x == 1").diagnostic
    assert render(d) == (
        "<expr>:1:3: error[syntax]: `==` is not a segql operator\n"
        "   1 | x == 1\n"
        "     |   ^~\n"
        "  hint: write `=` to compare for equality"
    )
    assert str(d) == render(d)


def test_render_on_a_later_line_and_at_the_end_of_the_text() -> None:
    d = _error("a > 1 and\n  b <").diagnostic
    assert render(d) == (
        "<expr>:2:6: error[syntax]: expected a value after `<`, found the end of the expression\n"
        "   2 |   b <\n"
        "     |      ^"
    )


def test_render_aligns_the_marker_under_wide_characters() -> None:
    # East Asian wide characters take two terminal columns; a combining accent none.
    d = _error("city = '東京都' and x == 1").diagnostic
    lines = render(d).splitlines()
    assert lines[1] == "   1 | city = '東京都' and x == 1"
    assert lines[2] == "     | " + " " * (8 + 6 + 8) + "^~"  # `city = '`, 東京都, `' and x `
    d = _error("name = 'e\u0301' and x == 1").diagnostic
    assert render(d).splitlines()[2] == "     | " + " " * (8 + 1 + 8) + "^~"
    d = _error("'東京' == 1").diagnostic  # the marked token itself is after them
    assert render(d).splitlines()[2] == "     | " + " " * (1 + 4 + 2) + "^~"


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_render_shows_a_window_of_a_long_line(where: str) -> None:
    filler = " and ".join(f"field_{i} = {i}" for i in range(250))  # ~4,000 characters
    text = {
        "start": f"x == 1 and {filler}",
        "middle": f"{filler} and x == 1 and {filler}",
        "end": f"{filler} and x ==",
    }[where]
    d = _error(text).diagnostic
    _, shown, marker = render(d).splitlines()[:3]
    assert len(shown) <= 8 + 100 and len(marker) <= 8 + 100
    assert shown.endswith("…") == (where != "end")
    assert shown.startswith("   1 | …") == (where != "start")
    caret = marker.index("^")
    assert shown[caret : caret + 2] == "=="


def test_render_marks_the_whole_token_and_prints_each_hint() -> None:
    d = _error("last_open < 30days").diagnostic
    lines = render(d).split("\n")
    assert lines[0] == (
        "<expr>:1:13: error[invalid-duration]: unknown duration unit `days` in `30days`"
    )
    assert lines[1] == "   1 | last_open < 30days"
    assert lines[2] == "     |             ^~~~~~"
    assert lines[3:] == [
        "  hint: did you mean `30d`?",
        "  hint: duration units are s, min, h, d, w, mo and y",
    ]


def test_render_keeps_tabs_aligned_and_hides_control_characters() -> None:
    d = _error("x = 1 and\n\ty ~ 2").diagnostic
    lines = render(d).split("\n")
    assert lines[1] == "   2 |  y ~ 2"
    assert lines[2] == "     |    ^"
    d = _error("x = 1 \x00 y").diagnostic
    assert render(d).split("\n")[1:3] == ["   1 | x = 1 \ufffd y", "     |       ^"]


def test_render_of_a_span_over_several_lines_marks_to_the_end_of_its_first_line() -> None:
    text = "x = 1 and\n(y\n"
    d = Diagnostic(code="syntax", message="m", span=span_at(text, 10, 13), source=text)
    assert render(d).split("\n")[1:] == ["   2 | (y", "     | ^~"]


def test_render_with_a_file_and_without_a_source() -> None:
    d = Diagnostic(code="syntax", message="m", span=span_at("ab", 1, 2), hints=("h",))
    assert render(d) == "<expr>:1:2: error[syntax]: m\n  hint: h"
    host = "segments:\n  vip:\n    where: x == 1\n"
    moved = _error("x == 1").diagnostic.with_location(
        file="segments.yaml", source=host, base=span_at(host, host.index("x == 1"))
    )
    assert (moved.line, moved.column, moved.end_column) == (3, 14, 16)
    assert render(moved).split("\n") == [
        "segments.yaml:3:14: error[syntax]: `==` is not a segql operator",
        "   3 |     where: x == 1",
        "     |              ^~",
        "  hint: write `=` to compare for equality",
    ]


def test_color_rendering_only_adds_ansi_codes() -> None:
    d = _error("a and").diagnostic
    colored = render(d, color=True)
    assert "\x1b[" in colored
    assert ANSI.sub("", colored) == render(d)


def test_segql_error_carries_its_diagnostics() -> None:
    err = _error("x == 1")
    assert isinstance(err, segql.SyntaxErrorDiagnostic)
    assert isinstance(err.diagnostics, tuple) and len(err.diagnostics) == 1
    assert err.diagnostic is err.diagnostics[0]
    assert err.code == "syntax"
    assert str(err) == render_all(err.diagnostics)
    assert json.loads(err.to_json()) == [d.to_dict() for d in err.diagnostics]
    # The source is attached, so the message shows the line and the caret.
    assert err.diagnostic.source == "x == 1" and "^~" in str(err)

    limit = _error("x" * 10_001)
    assert isinstance(limit, segql.LimitError)
    assert isinstance(limit, segql.SyntaxErrorDiagnostic)
    assert limit.code == "limit-exceeded"


def test_segql_error_with_several_or_no_diagnostics() -> None:
    a = Diagnostic(code="empty", message="first")
    b = Diagnostic(code="unknown-value", message="second", severity=Severity.WARNING)
    err = segql.SegqlError([a, b])
    assert err.diagnostics == (a, b) and err.code == "empty"
    # Not in any text: no position is made up.
    assert str(err) == "error[empty]: first\nwarning[unknown-value]: second"
    in_file = Diagnostic(code="syntax", message="third", file="schema.yaml")
    assert render(in_file) == "schema.yaml: error[syntax]: third"
    assert segql.SegqlError(a).diagnostics == (a,)
    assert segql.SegqlError([]).code == "internal"


def test_parse_refuses_non_strings_with_type_error() -> None:
    with pytest.raises(TypeError):
        segql.parse(b"x > 1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, (1, 1, 1, 1)),
        (0, 1, (1, 1, 1, 2)),
        (4, 5, (2, 1, 2, 2)),
        (2, 6, (1, 3, 2, 3)),
        (9, 9, (3, 1, 3, 1)),
        (99, 120, (3, 1, 3, 1)),  # clamped to the text
    ],
)
def test_span_at_counts_lines_and_columns(
    start: int, end: int, expected: tuple[int, int, int, int]
) -> None:
    sp = span_at("abc\ndefg\n", start, end)
    assert (sp.line, sp.column, sp.end_line, sp.end_column) == expected
    assert 0 <= sp.start <= sp.end <= len("abc\ndefg\n")


def test_echoed_source_keeps_emoji_sequences_and_drops_bidi_controls() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one glyph, two columns
    text = f"first_name = '{family}\u202e' and agge > 1"
    d = Diagnostic(
        code="unknown-name",
        message="m",
        span=span_at(text, text.index("agge"), text.index("agge") + 4),
        source=text,
    )
    line, marker = render(d).split("\n")[1:3]
    assert family in line  # not torn apart into replacement characters
    assert "\u202e" not in line and "\ufffd" in line  # a right-to-left override is shown, inert
    # The marker sits under `agge`: 14 columns of text, 2 for the emoji, 1 for U+FFFD, 6.
    assert marker.index("^") - marker.index("|") - 2 == 14 + 2 + 1 + 6
