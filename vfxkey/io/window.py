"""Pixel windows: OpenEXR's display window (the shot's format) and data window (the pixels held).

An EXR's *display window* is the frame a viewer shows: the shot's format. Its *data
window* is the rectangle of pixels the file actually holds, in the same coordinates: larger
than the display window for overscan, smaller for a crop or an element's bounding box,
and free to sit anywhere (negative origins included). vfxkey keeps both: a
:class:`~vfxkey.io.frame.Frame`'s arrays cover its data window, and the writers store the
windows they are given, so overscan and bounding boxes survive a conversion or a key.
Files without windows (PNG, TIFF, DPX, movies) have both windows at ``0, 0`` with the
image's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vfxkey.errors import VfxkeyError

# The largest window side vfxkey takes, in pixels (16K). A damaged or hostile header can
# name any size: refused when headers are read, before gigabytes are allocated.
MAX_SIDE = 16384


@dataclass(frozen=True)
class Window:
    """A rectangle of pixels: ``x, y`` of its top-left pixel (y grows downwards, as in
    OpenEXR and OIIO), ``width`` and ``height`` in pixels (at least 1)."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"a window is at least 1x1 pixels, got {self.width}x{self.height}")

    @classmethod
    def of(cls, pixels: np.ndarray) -> Window:
        """The window of an ``(H, W, ...)`` array placed at ``0, 0``."""
        return cls(0, 0, int(pixels.shape[1]), int(pixels.shape[0]))

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``, the shape of an array covering the window."""
        return self.height, self.width

    def check_size(self, name: str, what: str) -> Window:
        """``self`` if no side exceeds :data:`MAX_SIDE`, else :class:`VfxkeyError` naming
        ``name`` (a file and frame) and ``what`` window it is."""
        if self.width > MAX_SIDE or self.height > MAX_SIDE:
            raise VfxkeyError(f"{name}: {what} {self.width}x{self.height} is larger than vfxkey takes "
                              f"({MAX_SIDE} pixels a side); is the header damaged?")
        return self

    def union(self, other: Window) -> Window:
        """The smallest window holding both."""
        x, y = min(self.x, other.x), min(self.y, other.y)
        right = max(self.x + self.width, other.x + other.width)
        bottom = max(self.y + self.height, other.y + other.height)
        return Window(x, y, right - x, bottom - y)

    def __str__(self) -> str:
        """OpenEXR's ``(xMin yMin) - (xMax yMax)`` (inclusive corners) and the size."""
        return (f"({self.x} {self.y}) - ({self.x + self.width - 1} {self.y + self.height - 1}), "
                f"{self.width}x{self.height}")


def reframe(pixels: np.ndarray, window: Window, target: Window) -> np.ndarray:
    """Cut ``pixels`` (an ``(H, W, ...)`` array covering ``window``) to ``target``, a window in
    the same coordinates: pixels outside ``target`` are dropped, and parts of ``target`` that
    ``window`` does not cover are 0 (transparent black). Returns ``pixels`` itself when the
    windows are equal."""
    if pixels.shape[:2] != window.shape:
        raise ValueError(f"pixels of shape {pixels.shape[:2]} do not cover window {window}")
    if window == target:
        return pixels
    out = np.zeros(target.shape + pixels.shape[2:], pixels.dtype)
    left, top = max(window.x, target.x), max(window.y, target.y)
    right = min(window.x + window.width, target.x + target.width)
    bottom = min(window.y + window.height, target.y + target.height)
    if left < right and top < bottom:
        out[top - target.y : bottom - target.y, left - target.x : right - target.x] = pixels[
            top - window.y : bottom - window.y, left - window.x : right - window.x
        ]
    return out
