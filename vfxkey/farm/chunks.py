"""Splitting a shot's frames into chunks, the farm's unit of work."""

from __future__ import annotations

from vfxkey.io.sequence import FrameRange


def chunks(frames: FrameRange, size: int) -> list[FrameRange]:
    """``frames`` in order, cut into runs of ``size`` frames (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    items = list(frames)
    return [FrameRange.of(items[i:i + size]) for i in range(0, len(items), size)]


def split(frames: FrameRange, parts: int) -> list[FrameRange]:
    """``frames`` cut into ``parts`` contiguous runs as even as possible (none empty)."""
    items = list(frames)
    parts = max(1, min(parts, len(items)))
    bounds = [round(i * len(items) / parts) for i in range(parts + 1)]
    return [FrameRange.of(items[a:b]) for a, b in zip(bounds, bounds[1:])]
