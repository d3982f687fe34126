"""Characters no SQL text, terminal message or file may carry, checked in one place."""

from __future__ import annotations

import re

__all__ = ["unsafe_char"]

_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def unsafe_char(text: str) -> str | None:
    """A description of the first character of ``text`` that cannot reach SQL, or None."""
    m = _UNSAFE.search(text)
    if m is None:
        return None
    ch = m.group()
    return "a NUL character (\\0)" if ch == "\x00" else f"a lone surrogate (U+{ord(ch):04X})"
