"""What a channel export says about the members it left out (docs/privacy.md)."""

from __future__ import annotations

from segql.engines.consent import Reach

__all__ = ["reach_summary"]


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def reach_summary(reach: Reach, exported: int) -> str:
    """One line for stderr: how many were exported and, by reason, how many were not.
    ``exported`` below ``reach.reachable`` means addresses that could not be normalized
    for hashing (those rows were dropped)."""
    unusable = max(reach.reachable - exported, 0)
    left = reach.left_out + unusable
    head = f"exported {_n(exported, 'member')} reachable by {reach.channel}"
    if not left:
        return f"{head} (all {reach.members:,} members of the segment)"
    parts = [
        f"{reach.no_consent:,} without consent",
        f"{reach.no_address:,} without an address",
    ]
    if unusable:
        parts.append(f"{unusable:,} whose address could not be normalized for hashing")
    return f"{head}; left out {left:,} of {reach.members:,}: {', '.join(parts)}"
