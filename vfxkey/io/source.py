"""What every reader gives: a :class:`Source` that streams frames, and its :class:`SourceInfo`.

The steps a reader follows are :mod:`vfxkey.io.read`'s; this is the part shared by the
image reader (:mod:`vfxkey.io.images`) and the movie reader (:mod:`vfxkey.io.movies`):
missing frames held or black (step 1), NaN/Inf counted (step 3), RGB linearised into the
working space (step 5), frames decoded ahead on a background thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from vfxkey.errors import DataError, describe, where
from vfxkey.io import timecode
from vfxkey.io.background import Worker
from vfxkey.io.colour import convert, quick_to_convert
from vfxkey.io.frame import CodedRGB, Frame
from vfxkey.io.sequence import FrameRange
from vfxkey.io.window import Window

MISSING_POLICIES = ("error", "hold", "black")
NAN_POLICIES = ("zero", "error")


@dataclass
class SourceInfo:
    """What :func:`open_source` found. ``frames`` will be read (missing ones filled when
    ``missing`` is ``hold`` or ``black``); ``missing`` lists asked frames absent on disk.
    ``width`` and ``height`` are the display window's (the format); ``data_window`` is the
    smallest window holding every frame's data window, and ``data_window_varies`` says
    whether the frames' data windows differ."""

    path: str
    kind: str  # "still" | "sequence" | "stills" | "movie"
    frames: list[int]
    missing: list[int]
    width: int
    height: int
    channels: int
    channel_names: str  # what is read and from where, e.g. "R, G, B, A", "R, G, B from yuv420p"
    bit_depth: str  # "uint8" | "uint16" | "half" | "float" | "uint10" | "uint12" ...
    colorspace: str  # the input colour space used to linearise
    fps: Fraction | None
    display_window: Window
    data_window: Window
    data_window_varies: bool = False
    timecode: tuple[int, str] | None = None  # a movie's own: (its first shot frame, HH:MM:SS:FF there)

    @property
    def has_alpha(self) -> bool:
        """Whether an alpha channel is read (grey + alpha, or colour + alpha)."""
        return self.channels in (2, 4)


def movie_timecode(info: SourceInfo, frame: int, fps: Fraction) -> str:
    """The timecode of shot frame ``frame`` for a movie made from the source ``info``
    describes: the source movie's own timecode counted on to ``frame``, else ``frame``
    itself counted from 00:00:00:00 at ``fps`` (non-drop-frame)."""
    if info.timecode is not None:
        source_frame, source_timecode = info.timecode
        start = timecode.to_frames(source_timecode, fps)
        if start is not None:
            return timecode.from_frames(start + frame - source_frame, fps)
    return timecode.from_frames(frame, fps)


class Source:
    """Frames of one input, read one at a time (see :func:`open_source`)."""

    info: SourceInfo

    def __init__(self, *, working_space: str, missing: str, nan: str, warn: Callable[[str], None]):
        self.working_space = working_space
        self.missing_policy = missing
        self.nan_policy = nan
        self.warn = warn
        self._available: list[int] = []

    def __len__(self) -> int:
        return len(self.info.frames)

    def __iter__(self) -> Iterator[Frame]:
        """The frames in order, each decoded one frame ahead on a background thread.

        One is enough to overlap decoding with the caller's work; the keyer already has
        frames of its own in flight, and a second frame ahead held 24 MiB more at 1080p."""
        worker = Worker("read", depth=1)
        try:
            for number in self.info.frames:
                ready = [worker.next_result()] if len(worker) == worker.depth else []
                worker.submit(self.read, number)
                if ready:
                    yield ready.pop()  # held by the caller alone (a caller may keep less of it)
            while len(worker):
                yield worker.next_result()
        finally:
            worker.close()

    def read(self, frame: int) -> Frame:
        """Decode shot frame ``frame`` (a missing one is held or black, per ``missing``)."""
        if frame not in self._available:
            if self.missing_policy == "error":
                raise DataError(f"{where(self.info.path, frame)}: no such frame")
            if self.missing_policy == "black":
                return self._black(frame)
            return dataclasses.replace(self._decoded(_held_frame(self._available, frame)), number=frame)
        return self._decoded(frame)

    def _decoded(self, frame: int) -> Frame:
        """:meth:`_decode`, a library's failure (out of memory, an I/O error) as one line naming the frame."""
        try:
            return self._decode(frame)
        except (MemoryError, OSError) as exc:  # PyAV's I/O errors are OSErrors too
            raise DataError(f"{where(self.info.path, frame)}: cannot read: {describe(exc)}") from None

    def file_of(self, frame: int) -> str | None:
        """The file shot frame ``frame`` is read from: a movie's, a held frame's for a missing
        one (``missing = hold``); None when there is none (black, or an error when read)."""
        if frame not in self._available:
            if self.missing_policy != "hold":
                return None
            frame = _held_frame(self._available, frame)
        return self._file(frame)

    def _file(self, frame: int) -> str:
        raise NotImplementedError

    def _decode(self, frame: int) -> Frame:
        raise NotImplementedError

    def _black(self, frame: int) -> Frame:
        window = self.info.display_window
        alpha = np.zeros(window.shape, np.float32) if self.info.channels in (2, 4) else None
        return Frame(frame, np.zeros(window.shape + (3,), np.float32), alpha, True, self.info.path,
                     window, window)

    def _check_finite(self, frame: int, source: str, pixels: np.ndarray) -> None:
        """Step 3: count NaN/Inf values in the decoded ``pixels``; zero them (warning) or raise."""
        finite = np.isfinite(pixels)
        if finite.all():
            return
        bad = int(finite.size - np.count_nonzero(finite))
        if self.nan_policy == "error":
            raise DataError(f"{where(source, frame)}: {bad} NaN/Inf pixel values")
        self.warn(f"{where(source, frame)}: {bad} NaN/Inf pixel values set to 0")
        pixels[~finite] = 0.0

    def _finish(
        self, frame: int, source: str, rgb: np.ndarray, alpha: np.ndarray | None, premultiplied: bool,
        data_window: Window | None = None, display_window: Window | None = None,
    ) -> Frame:
        """Step 5: convert RGB to the working space (alpha is never converted).

        The frame gets contiguous arrays of its own (OpenCV and torch expect them). 8-bit
        codes that are quick to convert (``Frame.coded``) are kept as they are and converted
        when the frame's ``rgb`` is first read: a keyed frame is converted once, by the keyer."""
        alpha = None if alpha is None else np.ascontiguousarray(alpha, dtype=np.float32)
        if quick_to_convert(rgb.dtype, self.info.colorspace, self.working_space):  # converted when first used
            coded = CodedRGB(np.ascontiguousarray(rgb), self.info.colorspace, self.working_space)
            return Frame(frame, coded, alpha, premultiplied, source, data_window, display_window, coded)
        if self.info.colorspace != self.working_space or rgb.dtype != np.float32:
            rgb = convert(rgb, self.info.colorspace, self.working_space)
        rgb = np.ascontiguousarray(rgb, dtype=np.float32)
        return Frame(frame, rgb, alpha, premultiplied, source, data_window, display_window)


def _held_frame(available: list[int], frame: int) -> int:
    """The frame shown in place of a missing ``frame``: the last one before it, else the first."""
    earlier = [f for f in available if f < frame]
    return earlier[-1] if earlier else available[0]


def check_missing(path: str, asked: list[int], available: list[int], policy: str) -> list[int]:
    """Frames of ``asked`` not in ``available``; raise when that matters under ``policy``.

    The message says what exists where: the frames of ``path`` on disk (or in the movie)."""
    present = set(available)
    missing = [f for f in asked if f not in present]
    exists = f"{path} has frames {FrameRange.of(available)}" if available else f"{path} has no frames"
    if not present.intersection(asked):
        raise DataError(f"{path}: none of frames {FrameRange.of(asked)} found; {exists}")
    if missing and policy == "error":
        raise DataError(f"{path}: missing frames {FrameRange.of(missing)} of {FrameRange.of(asked)}; {exists}")
    return missing
