"""Inputs that follow the shot frame by frame: the plate and a key's hint mask."""

from __future__ import annotations

import cv2
import numpy as np

from vfxkey.errors import VfxkeyError, where
from vfxkey.io.read import Frame, Source, open_source
from vfxkey.io.window import Window, reframe


class Companion:
    """A second input beside the element: a plate (colour) or a hint mask (data).

    A still serves every frame (decoded once); a sequence or movie gives the frame of the
    same number. A hint is data, not colour: its values are read as stored, never
    linearised (a 50% grey mask stays 0.5).
    """

    def __init__(self, path: str, working_space: str, role: str, *, colorspace: str | None = None,
                 warn=None) -> None:
        as_stored = working_space if role == "hint" else colorspace
        self.source: Source = open_source(path, working_space=working_space, input_colorspace=as_stored, warn=warn)
        self.path, self.role = path, role
        self._still: Frame | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the input's format (display window)."""
        return self.source.info.display_window.shape

    def _read(self, number: int) -> Frame:
        if self.source.info.kind == "still" or len(self.source) == 1:
            if self._still is None:
                self._still = self.source.read(self.source.info.frames[0])
            return self._still
        if number not in self.source.info.frames:
            raise VfxkeyError(f"{where(self.path, number)}: the {self.role} has no frame {number}")
        return self.source.read(number)

    def image(self, number: int, shape: tuple[int, int] | None = None) -> np.ndarray:
        """(H, W, 3) scene-linear in the working space over the display window (the format),
        resized to ``shape`` (area filter) when given."""
        frame = self._read(number)
        rgb = reframe(frame.rgb, frame.data_window, frame.display_window)
        if shape is not None and rgb.shape[:2] != shape:
            rgb = cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        return rgb

    def mask(self, number: int, data_window: Window, display_window: Window) -> np.ndarray:
        """(H, W) in 0..1 over the input frame's ``data_window``: the alpha channel if there
        is one, else the mean of RGB (0 outside the mask's own data window)."""
        frame = self._read(number)
        if frame.display_window != display_window:
            raise VfxkeyError(f"{where(frame.source, number)}: the {self.role}'s display window {frame.display_window} "
                              f"differs from the input's {display_window}")
        values = frame.alpha if frame.alpha is not None else frame.rgb.mean(axis=-1)
        return np.clip(reframe(values, frame.data_window, data_window), 0.0, 1.0).astype(np.float32)
