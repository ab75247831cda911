"""The QC verdicts a frame can carry (``vfxkey.shot.qc``), by name: standard library only,
so the spec reader can check ``[qc] fail_on`` without loading the image libraries."""

from __future__ import annotations

from collections.abc import Iterable

VERDICTS = ("refit", "blank_key", "full_key", "inverted_key", "screen_residue", "flicker", "cut_edge")


def check_verdicts(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` (verdict names, or "all") as a tuple of VERDICTS; ValueError naming an unknown one."""
    names = list(names)
    names = list(VERDICTS) if names == ["all"] else names
    unknown = [n for n in names if n not in VERDICTS]
    if unknown:
        raise ValueError(f"unknown QC verdict {', '.join(unknown)}: choose from {', '.join(VERDICTS)} or all")
    return tuple(names)
