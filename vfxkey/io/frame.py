"""A decoded frame and the conventions every reader and writer shares.

:class:`Frame` is what readers give and stages pass on: scene-linear RGB in the working
space, alpha (never colour-converted), whether the colour is premultiplied, and the
OpenEXR windows the arrays sit in (:mod:`vfxkey.io.window`). The extension lists say which
files are read as images (OpenImageIO) and which as movies (PyAV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vfxkey.io.window import Window

STILL_EXTENSIONS = (".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg")
MOVIE_EXTENSIONS = (".mov", ".mp4", ".m4v", ".mkv", ".avi", ".mxf", ".webm")


class _Converted:
    """``Frame.rgb``: float32 RGB in the working space. A reader that keeps a frame's 8-bit
    codes (``Frame.coded``) passes them as ``rgb``; they are converted the first time ``rgb``
    is read, and the float32 result is kept. A frame keyed from its codes alone
    (``Frame.compact_rgb``) is never converted here."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, frame: "Frame | None", owner: type | None = None) -> np.ndarray:
        if frame is None:
            raise AttributeError("rgb")  # the dataclass field has no default
        rgb = frame.__dict__[self.slot]
        if isinstance(rgb, CodedRGB):
            rgb = frame.__dict__[self.slot] = np.asarray(rgb)
        return rgb

    def __set__(self, frame: "Frame", rgb: "np.ndarray | CodedRGB") -> None:
        frame.__dict__[self.slot] = rgb


@dataclass
class Frame:
    """One decoded frame, scene-linear in the working space.

    ``rgb`` is ``(H, W, 3)`` float32 and ``alpha`` ``(H, W)`` float32 in 0..1 (None when
    the file has no alpha). ``premultiplied`` says whether ``rgb`` is already multiplied
    by ``alpha``. The arrays cover ``data_window``, in the coordinates of
    ``display_window`` (the shot's format); both default to the arrays' own size at 0, 0.
    A reader may give ``rgb`` as its 8-bit codes (a ``CodedRGB``, also ``coded``): they
    become float32 when ``rgb`` is first read.
    """

    number: int
    rgb: np.ndarray = _Converted()
    alpha: np.ndarray | None
    premultiplied: bool
    source: str
    data_window: Window | None = None
    display_window: Window | None = None
    coded: CodedRGB | None = None  # ``rgb`` as the file's codes, when they are quick to convert again

    def compact_rgb(self) -> np.ndarray | CodedRGB:
        """``rgb``, or the same pixels in less memory (``coded``, which NumPy converts back
        bit for bit) for holding frames a while: the temporal filter's previous frames."""
        return self.rgb if self.coded is None else self.coded

    def __post_init__(self) -> None:
        rgb = self.compact_rgb()  # (codes stay codes)
        if self.data_window is None:
            self.data_window = Window.of(rgb)
        if self.display_window is None:
            self.display_window = Window.of(rgb)
        if rgb.shape[:2] != self.data_window.shape:
            raise ValueError(f"rgb of shape {rgb.shape[:2]} does not cover data window {self.data_window}")

    def premultiplied_rgba(self) -> np.ndarray:
        """``(H, W, 4)`` float32, colour premultiplied; alpha 1 where the file has none."""
        rgba = self._rgba()
        if self.alpha is not None and not self.premultiplied:
            rgba[..., :3] *= rgba[..., 3:]
        return rgba

    def straight_rgba(self) -> np.ndarray:
        """``(H, W, 4)`` float32, straight colour (0 where alpha is 0); alpha 1 where the file has none."""
        rgba = self._rgba()
        if self.alpha is not None and self.premultiplied:
            unpremultiply(rgba)
        return rgba

    def _rgba(self) -> np.ndarray:
        """A new ``(H, W, 4)`` float32 array of ``rgb`` and ``alpha`` (1 when there is none)."""
        rgba = np.empty(self.rgb.shape[:2] + (4,), np.float32)
        rgba[..., :3] = self.rgb
        rgba[..., 3] = 1.0 if self.alpha is None else self.alpha
        return rgba


@dataclass(frozen=True)
class CodedRGB:
    """A frame's RGB kept as the file's 8-bit code values, a quarter of float32's memory.

    NumPy sees it as the frame's ``rgb`` (``np.asarray`` converts the codes from
    ``colorspace`` to ``working_space`` again, as the reader did: the same float32 bits).
    Readers make one only where :func:`vfxkey.io.colour.quick_to_convert` says so."""

    codes: np.ndarray  # (H, W, 3) uint8
    colorspace: str
    working_space: str

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        from vfxkey.io.colour import convert

        return convert(self.codes, self.colorspace, self.working_space)


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """Divide colour by alpha in place in an ``(H, W, 4)`` float array; colour 0 where alpha <= 0."""
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    np.divide(rgb, alpha, out=rgb, where=alpha > 0)
    rgb[np.broadcast_to(alpha <= 0, rgb.shape)] = 0.0
    return rgba
