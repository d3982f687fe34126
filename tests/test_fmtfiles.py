"""`segql fmt` on files (issue 9, item 14): atomic writes that keep the file's mode,
comments, line endings, byte order marks, YAML anchors; clear errors for non-UTF-8 files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from segql.config.editing import Formatted, format_path, format_source, format_text, write_formatted
from segql.core.diagnostics import SchemaError, Severity, render


def fmt(text: str, name: str = "c.yaml") -> str:
    out = format_text(text, name=name, path=Path(name))
    assert format_text(out, name=name, path=Path(name)) == out  # formatting is idempotent
    return out


# -- writing ----------------------------------------------------------------------------


def test_write_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("segments:\n  a: age>3\n")
    path.chmod(0o640)
    result = format_path(path)
    assert result.changed and result.new == "segments:\n  a: age > 3\n"
    write_formatted(path, result)
    assert path.read_text() == result.new
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]  # no temporary file left


def test_a_failed_write_leaves_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    old = "segments:\n" + "".join(f"  s{i}: age>{i}\n" for i in range(200))
    path.write_text(old)
    result = format_path(path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SchemaError) as info:
        write_formatted(path, result)
    d = info.value.diagnostic
    assert d.code == "config-io" and "No space left on device" in d.message
    assert path.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["big.yaml"]


def test_a_file_changed_since_it_was_read_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("segments:\n  a: age>3\n")
    result = format_path(path)
    path.write_text("segments:\n  a: age>4\n")
    with pytest.raises(SchemaError, match="changed while it was being formatted"):
        write_formatted(path, result)
    assert path.read_text() == "segments:\n  a: age>4\n"


def test_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("segments:\n  a: age>3\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    write_formatted(link, format_path(link))
    assert link.is_symlink() and real.read_text() == "segments:\n  a: age > 3\n"


# -- bytes that must survive ------------------------------------------------------------


def test_crlf_line_endings_are_kept() -> None:
    text = "segments:\r\n  a:\r\n    where: age>3\r\n  b: |\r\n    age>4\r\n    and age<9\r\n"
    assert fmt(text) == (
        "segments:\r\n  a:\r\n    where: age > 3\r\n  b: |\r\n    age > 4 and age < 9\r\n"
    )


def test_crlf_for_new_block_strings_and_mixed_endings() -> None:
    long = " and ".join(f"age > {i}" for i in range(12))
    text = f"# lf line\nsegments:\r\n  a: {long}\r\n  b: age>1\n"
    out = fmt(text)
    assert out.startswith("# lf line\nsegments:\r\n  a: |\r\n    age > 0\r\n    and age > 1\r\n")
    assert out.endswith("\r\n    and age > 11\r\n  b: age > 1\n")


def test_a_byte_order_mark_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbfsegments:\n  a:\n    where: age>3\n")
    result = format_path(path)
    write_formatted(path, result)
    assert path.read_bytes() == b"\xef\xbb\xbfsegments:\n  a:\n    where: age > 3\n"
    toml = tmp_path / "c.toml"
    toml.write_bytes(b'\xef\xbb\xbf[segments]\r\na = "age>3"\r\n')
    write_formatted(toml, format_path(toml))
    assert toml.read_bytes() == b'\xef\xbb\xbf[segments]\r\na = "age > 3"\r\n'


def test_non_utf8_files_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"segments:\n  a:\n    where: name = 'caf\xe9'\n")
    with pytest.raises(SchemaError) as info:
        format_path(path)
    d = info.value.diagnostic
    assert (d.code, d.file, d.line, d.column) == ("config-io", str(path), 3, 23)
    assert "is not UTF-8 text" in d.message
    render(d).encode("utf-8")


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("segments: {}\n")
    with pytest.raises(SchemaError, match="cannot tell the format"):
        format_path(path)


# -- comments ---------------------------------------------------------------------------


def test_expressions_with_comments_are_left_as_written_with_a_note() -> None:
    text = (
        "segments:\n"
        "  a:\n"
        "    where: |\n"
        "      # grown-ups who bought\n"
        "      age>=18   # adults\n"
        "      and purchases>1\n"
        "  b:\n"
        "    where: |\n"
        "      age >= 18  # already canonical apart from the comment\n"
        "  c: age>3 # a YAML comment, outside the expression\n"
    )
    result = format_source(text, name="c.yaml", fmt="yaml")
    assert result.new == text.replace("c: age>3", "c: age > 3")
    [note] = result.notes
    assert note.severity is Severity.NOTE and note.code == "fmt-kept"
    assert (note.line, note.column) == (3, 12)
    assert "`segments.a.where` is left as written: it has # comments" in note.message


def test_a_hash_inside_a_string_is_not_a_comment() -> None:
    assert fmt("segments:\n  a: |\n    email='#1'  and age>3\n") == (
        "segments:\n  a: |\n    email = '#1' and age > 3\n"
    )


def test_a_yaml_comment_after_a_value_that_becomes_a_block_string() -> None:
    long = " and ".join(f"age > {i}" for i in range(12))
    out = fmt(f"segments:\n  a: {long}   # twelve\n")
    assert out.startswith("segments:\n  a: |   # twelve\n    age > 0\n")


# -- YAML anchors, flow style -----------------------------------------------------------


def test_an_anchored_expression_is_formatted_once() -> None:
    text = "segments:\n  a:\n    where: &e age>3\n  b:\n    where: *e\n  c: *e\n"
    assert fmt(text) == "segments:\n  a:\n    where: &e age > 3\n  b:\n    where: *e\n  c: *e\n"


def test_merged_segments_and_tagged_values() -> None:
    text = "segments:\n  a: &a {where: !!str age>3, description: x}\n  b: {<<: *a}\n"
    assert fmt(text) == "segments:\n  a: &a {where: !!str age > 3, description: x}\n  b: {<<: *a}\n"


def test_an_anchor_also_used_outside_an_expression_is_left_alone() -> None:
    text = "segments:\n  a:\n    where: &e age>3\n    description: *e\n"
    result = format_source(text, name="c.yaml", fmt="yaml")
    assert result.new == text
    assert "its YAML anchor is also used outside an expression" in result.notes[0].message


def test_long_expressions_in_flow_mappings_stay_on_one_line() -> None:
    long = " and ".join(f"age>{i}" for i in range(12))
    out = fmt(f'segments:\n  a: {{where: "{long}", description: d}}\n')
    assert out == ('segments:\n  a: {where: "' + long.replace(">", " > ") + '", description: d}\n')


def test_unprintable_characters_are_escaped() -> None:
    # A raw DEL (from a YAML or TOML escape) becomes a segql escape in the canonical form.
    assert fmt("segments:\n  a: \"email='\\x7f'\"\n") == (
        "segments:\n  a: \"email = '\\\\u007f'\"\n"
    )
    assert fmt("[segments]\na = \"email='\\u007f'\"\n", "c.toml") == (
        "[segments]\na = \"email = '\\\\u007f'\"\n"
    )


def test_formatted_result_type() -> None:
    r = Formatted(old="a", new="a")
    assert not r.changed and r.notes == ()


def test_a_second_byte_order_mark_is_content() -> None:
    # Only the first U+FEFF is a byte order mark; YAML skips a second, JSON refuses it.
    assert fmt("\ufeff\ufeffsegments: {vip: age>3}") == "\ufeff\ufeffsegments: {vip: age > 3}"
    with pytest.raises(SchemaError, match="invalid JSON"):
        format_text('\ufeff\ufeff{"segments": {"vip": "age>3"}}', name="f", fmt="json")
