"""A second input that follows a shot frame by frame: a hint or edit mask, or a preview plate."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from vfxkey.errors import VfxkeyError, describe, where
from vfxkey.io.frame import Frame
from vfxkey.io.read import open_source
from vfxkey.io.source import Source
from vfxkey.io.window import Window, reframe

DATA_ROLES = ("hint", "mask", "garbage-matte", "core-matte")  # masks are data: values as stored, never linearised


class Companion:
    """A second input that follows the shot frame by frame: a hint or edit mask, or a preview plate.

    A still serves every frame (decoded once); a sequence or movie gives the frame of the
    same number. A mask (``role`` "hint" or "mask") is data, not colour: its values are read
    as stored, never linearised (a 50% grey mask stays 0.5). ``role`` also names the input
    in errors ("the plate has no frame 1006").
    """

    def __init__(self, path: str, working_space: str, role: str,
                 warn: Callable[[str], None] | None = None, *, colorspace: str | None = None) -> None:
        as_stored = working_space if role in DATA_ROLES else colorspace  # colorspace: a plate's, None = by file
        self.source: Source = open_source(path, working_space=working_space, input_colorspace=as_stored, warn=warn)
        self.path, self.role = path, role
        self._still: Frame | None = None

    def _read(self, number: int) -> Frame:
        if self.source.info.kind == "still" or len(self.source) == 1:
            if self._still is None:
                self._still = self.source.read(self.source.info.frames[0])
            return self._still
        if number not in self.source.info.frames:
            raise VfxkeyError(f"{where(self.path, number)}: the {self.role} has no frame {number}")
        return self.source.read(number)

    def file_of(self, number: int) -> str | None:
        """The file shot frame ``number`` is read from (a still's for every frame); None when there is none."""
        if self.source.info.kind == "still" or len(self.source) == 1:
            number = self.source.info.frames[0]
        return self.source.file_of(number)

    def image(self, number: int, shape: tuple[int, int]) -> np.ndarray:
        """(H, W, 3) scene-linear: the frame's display window (the data window placed in it,
        0 where it holds no pixels), resized to ``shape``."""
        frame = self._read(number)
        rgb = reframe(frame.rgb, frame.data_window, frame.display_window)
        if rgb.shape[:2] != shape:
            try:
                rgb = cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
            except (cv2.error, MemoryError) as exc:
                raise VfxkeyError(f"{where(frame.source, number)}: cannot resize the {self.role} to "
                                  f"{shape[1]}x{shape[0]}: {describe(exc)}") from None
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
