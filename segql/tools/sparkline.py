"""A series of numbers as one line of block characters: `segql history`'s sparkline, which
`segql demo` prints too (a module of its own, so the demo needs not import the commands)."""

from __future__ import annotations

__all__ = ["sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """The sizes as one line of block characters, lowest to highest."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return _BLOCKS[3] * len(values)
    return "".join(_BLOCKS[round((v - lo) * 7 / (hi - lo))] for v in values)
