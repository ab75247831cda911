"""The artist's garbage and core mattes of a key shot, frame by frame.

A matte is an image (still, sequence or movie; white = 1, values as stored, never
linearised) and/or polygons from the spec (``garbage_shapes`` / ``core_shapes``, input
pixels from the top left of the display window), the larger of the two where both are
given. The keyer multiplies alpha by ``1 - garbage`` and raises it to ``core``
(``vfxkey.matte.greenpost.Keyer.key``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from vfxkey.io.companion import Companion
from vfxkey.io.window import Window

Shapes = tuple[tuple[tuple[float, float], ...], ...]


class Matte:
    """One matte of the shot (garbage or core): ``at(frame, data_window, display_window)``."""

    def __init__(self, path: str | None, shapes: Shapes, working_space: str, role: str,
                 warn: Callable[[str], None] | None = None) -> None:
        self.images = Companion(path, working_space, role, warn=warn) if path else None
        self.shapes = shapes

    def __bool__(self) -> bool:
        return self.images is not None or bool(self.shapes)

    def at(self, number: int, data_window: Window, display_window: Window) -> np.ndarray | None:
        """(H, W) float32 in 0..1 over the frame's ``data_window``; None without a matte."""
        if not self:
            return None
        matte = np.zeros((data_window.height, data_window.width), np.float32)
        if self.images is not None:
            matte = self.images.mask(number, data_window, display_window)
        if self.shapes:
            filled = np.zeros(matte.shape, np.uint8)
            offset = np.array([data_window.x - display_window.x, data_window.y - display_window.y], np.float64)
            # polygon vertices are pixel centres: 4 bits of sub-pixel precision for OpenCV
            polygons = [np.round((np.array(shape) - offset) * 16).astype(np.int32) for shape in self.shapes]
            cv2.fillPoly(filled, polygons, 1, lineType=cv2.LINE_8, shift=4)
            matte = np.maximum(matte, filled.astype(np.float32))
        return matte
