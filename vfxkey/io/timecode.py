"""SMPTE timecode (non-drop-frame) for movies: ``HH:MM:SS:FF`` <-> a frame count.

A timecode counts frames at the nominal integer rate of the frame rate (24 for 24 and
24000/1001, 25, 30 for 30000/1001 ...). Drop-frame timecode (``;`` before the frames) is
not produced; a source's drop-frame timecode is refused by :func:`to_frames`.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2}):(\d{2})$")


def nominal_rate(fps: Fraction) -> int:
    """The integer frames per timecode second of ``fps`` (24000/1001 -> 24)."""
    return max(1, round(float(fps)))


def from_frames(frames: int, fps: Fraction) -> str:
    """``frames`` since 00:00:00:00 as ``HH:MM:SS:FF`` at ``fps`` (wrapping after 24 hours)."""
    rate = nominal_rate(fps)
    frames %= 24 * 3600 * rate
    seconds, ff = divmod(frames, rate)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{ff:02d}"


def to_frames(timecode: str, fps: Fraction) -> int | None:
    """The frame count of a non-drop-frame ``HH:MM:SS:FF`` at ``fps``; None if it is not one."""
    match = _TIMECODE.match(timecode.strip())
    if match is None:
        return None
    hours, minutes, seconds, ff = (int(g) for g in match.groups())
    rate = nominal_rate(fps)
    return None if ff >= rate else ((hours * 60 + minutes) * 60 + seconds) * rate + ff
