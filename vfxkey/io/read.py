"""Readers: stills, image sequences, folders of stills (OpenImageIO) and movies (PyAV).

:func:`open_source` looks at a path and returns a :class:`Source` that streams
:class:`Frame` objects one at a time, each scene-linear in the working space:

1. **Find the frames.** A pattern (``plate.####.exr``) is scanned on disk and compared
   with the asked :class:`~vfxkey.io.sequence.FrameRange`; missing frames raise (the error
   lists them) or are filled by holding the previous frame or with black. A folder is a
   set of stills numbered 1.. in name order; a single still is frame 1; frame N of a movie
   (counting from 0) is shot frame ``first + N``.
2. **Pick the input colour space.** ``input_colorspace`` if given; else the space the
   file records (EXR ``oiio:ColorSpace`` or ``vfxkey:colorspace``, PNG/JPEG sRGB) when the
   config knows it; else the working space for float/half data and
   ``sRGB Encoded Rec.709 (sRGB)`` for 8/16-bit integer data. Movies are ``Camera Rec.709``
   (decoded with the BT.709 matrix unless tagged BT.601).
3. **Decode and check one frame**: float files as float32, 8/16-bit files as code values.
   The arrays cover the file's *data window*, placed in its *display window* (the shot's
   format; see :mod:`vfxkey.io.window`): overscan and bounding boxes are kept. Every
   frame of a sequence must have the first frame's display window (data windows may
   differ). NaN/Inf values are counted, then set to 0 with a warning or refused.
4. **Split the channels**, by name: R, G, B (grey ``Y`` becomes RGB) and alpha ``A``;
   other layers (``Z``, ``diffuse.R`` ...) are left. A multi-part EXR is read from its
   first part that has colour channels (a depth part before the beauty is skipped). EXR colour is
   premultiplied (OpenEXR's convention); PNG/TIFF/DPX alpha and movie alpha are straight.
5. **Linearise.** RGB is converted to the working space through OCIO; alpha never is.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenImageIO as oiio
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from vfxkey.errors import VfxkeyError, where
from vfxkey.io.background import Worker
from vfxkey.io.colour import (
    DISPLAY_SPACE,
    VIDEO_SPACE,
    WORKING_SPACE,
    check_colorspace,
    convert,
    resolve_colorspace,
    unit_float,
)
from vfxkey.io.frame import MOVIE_EXTENSIONS, STILL_EXTENSIONS, Frame
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token, scan_frames
from vfxkey.io.window import Window

MISSING_POLICIES = ("error", "hold", "black")
NAN_POLICIES = ("zero", "error")
INTEGER_TYPES = ("uint8", "uint16")  # OIIO data types read as code values, not float

logger = logging.getLogger(__name__)


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
        """The frames in order, each decoded up to two frames ahead on a background thread."""
        worker = Worker("read")
        try:
            for number in self.info.frames:
                frame = worker.next_result() if len(worker) == worker.depth else None
                worker.submit(self.read, number)
                if frame is not None:
                    yield frame
            while len(worker):
                yield worker.next_result()
        finally:
            worker.close()

    def read(self, frame: int) -> Frame:
        """Decode shot frame ``frame`` (a missing one is held or black, per ``missing``)."""
        if frame not in self._available:
            if self.missing_policy == "error":
                raise VfxkeyError(f"{where(self.info.path, frame)}: no such frame")
            if self.missing_policy == "black":
                return self._black(frame)
            return dataclasses.replace(self._decode(_held_frame(self._available, frame)), number=frame)
        return self._decode(frame)

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
            raise VfxkeyError(f"{where(source, frame)}: {bad} NaN/Inf pixel values")
        self.warn(f"{where(source, frame)}: {bad} NaN/Inf pixel values set to 0")
        pixels[~finite] = 0.0

    def _finish(
        self, frame: int, source: str, rgb: np.ndarray, alpha: np.ndarray | None, premultiplied: bool,
        data_window: Window | None = None, display_window: Window | None = None,
    ) -> Frame:
        """Step 5: convert RGB to the working space (alpha is never converted).

        The frame gets contiguous arrays of its own (OpenCV and torch expect them)."""
        if self.info.colorspace != self.working_space or rgb.dtype != np.float32:
            rgb = convert(rgb, self.info.colorspace, self.working_space)
        rgb = np.ascontiguousarray(rgb, dtype=np.float32)
        alpha = None if alpha is None else np.ascontiguousarray(alpha, dtype=np.float32)
        return Frame(frame, rgb, alpha, premultiplied, source, data_window, display_window)


def _held_frame(available: list[int], frame: int) -> int:
    """The frame shown in place of a missing ``frame``: the last one before it, else the first."""
    earlier = [f for f in available if f < frame]
    return earlier[-1] if earlier else available[0]


def _check_missing(path: str, asked: list[int], available: list[int], policy: str) -> list[int]:
    """Frames of ``asked`` not in ``available``; raise when that matters under ``policy``."""
    present = set(available)
    missing = [f for f in asked if f not in present]
    if not present.intersection(asked):
        raise VfxkeyError(f"{path}: none of frames {FrameRange.of(asked)} found")
    if missing and policy == "error":
        raise VfxkeyError(
            f"{path}: missing frames {FrameRange.of(missing)} of {FrameRange.of(asked)} "
            "(--missing hold|black fills them)"
        )
    return missing


# --------------------------------------------------------------------------- images


def _open_image(path: str, frame: int | None) -> oiio.ImageInput:
    """Open an image file for reading, or raise a one-line :class:`VfxkeyError`."""
    if not os.path.exists(path):
        raise VfxkeyError(f"{where(path, frame)}: no such file")
    if os.path.getsize(path) == 0:
        raise VfxkeyError(f"{where(path, frame)}: empty file")
    config = oiio.ImageSpec()
    config["oiio:UnassociatedAlpha"] = 1  # keep straight alpha straight (PNG, TIFF)
    image = oiio.ImageInput.open(path, config)
    if image is None:
        raise VfxkeyError(f"{where(path, frame)}: cannot read image: {_first_line(oiio.geterror())}")
    return image


@dataclass
class ImageHeader:
    """What an image file says about itself, read without its pixels."""

    path: str
    width: int  # display window (the full frame, even when the data window is cropped)
    height: int
    pixel_aspect: float  # 1.0 = square pixels
    attributes: dict  # metadata by name: "vfxkey:version", "oiio:ColorSpace", ...


def read_header(path: str, frame: int | None = None) -> ImageHeader:
    """Read an image's header; :class:`VfxkeyError` naming the file (and frame) if it cannot."""
    image = _open_image(path, frame)
    try:
        spec = image.spec()
    finally:
        image.close()
    return ImageHeader(
        path=path, width=spec.full_width, height=spec.full_height,
        pixel_aspect=spec.get_float_attribute("PixelAspectRatio", 1.0),
        attributes={attribute.name: attribute.value for attribute in spec.extra_attribs},
    )


def _first_line(message: str) -> str:
    return (message.strip().splitlines() or ["unknown error"])[0]


def _bit_depth(spec: oiio.ImageSpec) -> str:
    bits = spec.get_int_attribute("oiio:BitsPerSample", 0)
    base = str(spec.format)
    if base.startswith("uint") and bits and bits != spec.format.size() * 8:
        return f"uint{bits}"
    return base


def _windows(spec: oiio.ImageSpec) -> tuple[Window, Window]:
    """``(data window, display window)`` of an image (OIIO's ``x, y, width, height`` and ``full_*``)."""
    data = Window(spec.x, spec.y, spec.width, spec.height)
    display = Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height)
    return data, display


def _image_colorspace(spec: oiio.ImageSpec, working_space: str) -> str:
    """Step 2 for an image: the recorded space if known, else by the data type."""
    for attribute in ("oiio:ColorSpace", "vfxkey:colorspace"):
        recorded = resolve_colorspace(spec.get_string_attribute(attribute, ""))
        if recorded is not None:
            return recorded
    return working_space if str(spec.format) in ("half", "float", "double") else DISPLAY_SPACE


@dataclass(frozen=True)
class _Channels:
    """Where step 4 finds the colour and alpha in an image part: channel indices in its spec."""

    part: int  # the subimage (EXR part)
    colour: tuple[int, int, int]  # R, G, B; grey's one channel three times
    alpha: int | None
    spec: oiio.ImageSpec
    skipped: tuple[str, ...]  # the parts before it, without colour: 'name [channels]'

    @property
    def count(self) -> int:
        """Channels vfxkey uses: 1 or 3 colour, plus alpha."""
        return len(set(self.colour)) + (self.alpha is not None)

    def describe(self, most: int = 8) -> str:
        """The channels read, their part when the file has several, and what else the part holds."""
        names = list(self.spec.channelnames)
        used = sorted(set(self.colour)) + ([self.alpha] if self.alpha is not None else [])
        text = ", ".join(names[i] for i in used)
        if self.part or self.skipped:
            text += f' of part {self.part + 1} "{self.spec.get_string_attribute("name", "")}"; skipped: ' + "; ".join(self.skipped)
        others = [name for i, name in enumerate(names) if i not in used]
        if others:
            text += "; also in it: " + ", ".join(others[:most]) + (f" and {len(others) - most} more" if len(others) > most else "")
        return text


def _channels(image: oiio.ImageInput, path: str, frame: int | None) -> _Channels:
    """Step 4's channels, by name, in the first part of ``image`` that has colour: R, G and B,
    or grey ``Y`` (OIIO's name for a grey PNG, TIFF or DPX channel); alpha is ``A`` (or what
    OIIO marks as alpha, or the 4th of four channels R, G, B, ?). Leaves ``image`` at that part."""
    parts, part, names = [], 0, []
    while image.seek_subimage(part, 0):
        spec = image.spec()
        names = list(spec.channelnames)
        if {"R", "G", "B"} <= set(names):
            colour = tuple(names.index(c) for c in "RGB")
        elif "Y" in names:
            colour = (names.index("Y"),) * 3
        else:
            parts.append(f"{spec.get_string_attribute('name', f'part {part}')} [{', '.join(names)}]")
            part += 1
            continue
        alpha = names.index("A") if "A" in names else spec.alpha_channel if spec.alpha_channel >= 0 else None
        if alpha is None and spec.nchannels == 4 and colour == (0, 1, 2):
            alpha = 3
        return _Channels(part, colour, alpha, spec, tuple(parts))
    if len(parts) == 1:
        raise VfxkeyError(f"{where(path, frame)}: no colour channels (R, G, B or Y) among its channels {', '.join(names)}")
    raise VfxkeyError(f"{where(path, frame)}: no colour channels (R, G, B or Y) in any part: {'; '.join(parts)}")


class ImageSource(Source):
    """Stills, sequences and folders of stills, read through OpenImageIO."""

    def __init__(self, path: str, kind: str, files: dict[int, str], asked: list[int], *,
                 input_colorspace: str | None, **options):
        super().__init__(**options)
        self._files = files
        self._available = sorted(files)
        missing = _check_missing(path, asked, self._available, self.missing_policy)
        first = next(f for f in asked if f in files)
        image = _open_image(files[first], first)
        try:
            channels = _channels(image, files[first], first)
        finally:
            image.close()
        spec = channels.spec
        colorspace = input_colorspace or _image_colorspace(spec, self.working_space)
        data_window, display_window = _windows(spec)
        self.info = SourceInfo(
            path=path, kind=kind, frames=list(asked), missing=missing,
            width=display_window.width, height=display_window.height, channels=channels.count,
            channel_names=channels.describe(),
            bit_depth=_bit_depth(spec), colorspace=colorspace, fps=_image_fps(spec),
            display_window=display_window, data_window=data_window,
        )
        if kind == "sequence":
            # Read every header now (cheap), so a broken frame or one of another format stops
            # the run before anything is written rather than halfway through.
            for number in asked:
                if number in files and number != first:
                    image = _open_image(files[number], number)
                    try:
                        frame_data_window, frame_display_window = _windows(_channels(image, files[number], number).spec)
                    finally:
                        image.close()
                    self._check_display_window(files[number], number, frame_display_window)
                    if frame_data_window != self.info.data_window:
                        self.info.data_window = self.info.data_window.union(frame_data_window)
                        self.info.data_window_varies = True

    def _check_display_window(self, path: str, frame: int, display_window: Window) -> None:
        """Step 3: every frame of a sequence has the first frame's display window (the format)."""
        if self.info.kind == "sequence" and display_window != self.info.display_window:
            raise VfxkeyError(
                f"{where(path, frame)}: display window {display_window} differs from the "
                f"sequence's {self.info.display_window}"
            )

    def _decode(self, frame: int) -> Frame:
        path = self._files[frame]
        image = _open_image(path, frame)
        try:
            channels = _channels(image, path, frame)
            spec = channels.spec
            data_window, display_window = _windows(spec)
            self._check_display_window(path, frame, display_window)
            # 8/16-bit files stay integer until OCIO converts them (a per-code-value table).
            data_type = str(spec.format) if str(spec.format) in INTEGER_TYPES else "float"
            used = [*channels.colour, *([channels.alpha] if channels.alpha is not None else [])]
            begin, end = min(used), max(used) + 1  # only the span holding them (not every layer)
            pixels = image.read_image(channels.part, 0, begin, end, data_type)
            if pixels is None or image.has_error:
                raise VfxkeyError(f"{where(path, frame)}: cannot read pixels: {_first_line(image.geterror())}")
        finally:
            image.close()

        pixels = pixels.reshape(spec.height, spec.width, end - begin)
        if data_type == "float":
            self._check_finite(frame, path, pixels)
        # Step 4: colour (grey -> RGB) and alpha aside, by name.
        rgb = pixels[..., [c - begin for c in channels.colour]]
        alpha = unit_float(pixels[..., channels.alpha - begin]) if channels.alpha is not None else None
        # OIIO leaves straight alpha straight when asked (and says so); EXR is premultiplied.
        premultiplied = alpha is not None and not spec.get_int_attribute("oiio:UnassociatedAlpha", 0)
        return self._finish(frame, path, rgb, alpha, premultiplied, data_window, display_window)


def _image_fps(spec: oiio.ImageSpec) -> Fraction | None:
    fps = spec.getattribute("FramesPerSecond")
    return Fraction(*fps) if isinstance(fps, tuple) and len(fps) == 2 and fps[1] else None


# --------------------------------------------------------------------------- movies


def _rate(rate) -> Fraction | None:
    """An exact rational from PyAV: a ``Fraction`` in PyAV 18, an ``AVRational`` (``num``/``den``,
    unset = 0/1) in PyAV 19. None when unset."""
    if rate is None:
        return None
    num = getattr(rate, "numerator", None)
    num, den = (rate.num, rate.den) if num is None else (num, rate.denominator)
    return Fraction(int(num), int(den)) if num and den else None


class MovieSource(Source):
    """Movies through PyAV, decoded forward; seeking back only when a caller asks to."""

    def __init__(self, path: str, frames: FrameRange | None, first: int, *,
                 input_colorspace: str | None, **options):
        super().__init__(**options)
        self.path = path
        try:
            self._container = av.open(path)
        except (av.FFmpegError, OSError) as exc:
            raise VfxkeyError(f"{path}: cannot read movie: {exc}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VfxkeyError(f"{path}: movie has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._stream = stream
        self.fps = _rate(stream.average_rate) or _rate(stream.guessed_rate) or _rate(stream.base_rate)
        if self.fps is None:
            raise VfxkeyError(f"{path}: movie has no frame rate")
        self.first = first
        self._time_base = _rate(stream.time_base)
        self._start_pts = stream.start_time or 0
        count = stream.frames or self._count_packets()
        if count == 0:
            raise VfxkeyError(f"{path}: movie has no frames")
        self._available = list(range(first, first + count))
        asked = list(frames) if frames is not None else self._available
        missing = _check_missing(path, asked, self._available, self.missing_policy)
        context = stream.codec_context
        pix_fmt = context.format
        window = Window(0, 0, context.width, context.height)
        has_alpha = bool(pix_fmt) and any(c.is_alpha for c in pix_fmt.components)
        self.info = SourceInfo(
            path=path, kind="movie", frames=asked, missing=missing,
            width=context.width, height=context.height,
            channels=4 if has_alpha else 3,
            channel_names=f"R, G, B{', A' if has_alpha else ''} from {pix_fmt.name if pix_fmt else 'an unknown pixel format'}",
            bit_depth=f"uint{pix_fmt.components[0].bits}" if pix_fmt else "unknown",
            colorspace=input_colorspace or VIDEO_SPACE, fps=self.fps,
            display_window=window, data_window=window,
        )
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._next = first

    def _count_packets(self) -> int:
        """Frame count for containers that do not store it: count the video packets."""
        count = sum(1 for packet in self._container.demux(self._stream) if packet.size)
        self._container.seek(0)
        return count

    def _number(self, av_frame: av.VideoFrame) -> int:
        """Shot frame number of a decoded frame, from its timestamp (decode order without one)."""
        if av_frame.pts is None:
            return self._next
        seconds = (av_frame.pts - self._start_pts) * self._time_base
        return self.first + round(seconds * self.fps)

    def _seek(self, frame: int) -> None:
        """Restart decoding at the keyframe at or before ``frame``."""
        target = self._start_pts + int((frame - self.first) / self.fps / self._time_base)
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._decoder = self._container.decode(self._stream)

    def _decode(self, frame: int) -> Frame:
        if self._decoder is None or frame < self._next:
            self._seek(frame)
        try:
            for av_frame in self._decoder:
                number = self._number(av_frame)
                self._next = number + 1
                if number == frame:
                    return self._to_frame(frame, av_frame)
                if number > frame:
                    break
        except av.FFmpegError as exc:
            raise VfxkeyError(f"{where(self.path, frame)}: cannot decode: {exc}") from None
        raise VfxkeyError(f"{where(self.path, frame)}: frame not found in the movie")

    def _to_frame(self, frame: int, av_frame: av.VideoFrame) -> Frame:
        # Y'CbCr -> R'G'B' with the tagged matrix (BT.709 unless tagged BT.601) and range.
        matrix = Colorspace.ITU601 if av_frame.colorspace in (5, 6) else Colorspace.ITU709
        # Full range when tagged AVCOL_RANGE_JPEG or in a yuvj* (JPEG-style) pixel format.
        full_range = av_frame.color_range == 2 or av_frame.format.name.startswith("yuvj")
        # 4:2:0 and 4:2:2 chroma is brought to full size with a bicubic filter, at the
        # siting the frame is tagged with (swscale's default, bilinear, softens colour
        # detail: on bench/keying's H.264 photos bicubic keys with 6-8 % lower SAD).
        # PyAV 18 returns a gbrpf32le frame's G, B, R planes as an array in R, G, B order.
        rgb = av_frame.reformat(
            format="gbrpf32le",
            src_colorspace=matrix,
            src_color_range=ColorRange.JPEG if full_range else ColorRange.MPEG,
            interpolation=Interpolation.BICUBIC,
        ).to_ndarray()
        alpha = _alpha_plane(av_frame) if self.info.channels == 4 else None
        return self._finish(frame, self.path, rgb, alpha, False)


def _alpha_plane(av_frame: av.VideoFrame) -> np.ndarray:
    """Straight alpha in 0..1 read from the frame's own alpha plane.

    Read directly rather than through swscale, which scales 12-bit alpha to 65520/65535.
    """
    component = next(c for c in av_frame.format.components if c.is_alpha)
    plane = av_frame.planes[component.plane]
    dtype = np.uint16 if component.bits > 8 else np.uint8
    samples = np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, : plane.width]
    return samples.astype(np.float32) / float(2**component.bits - 1)


# --------------------------------------------------------------------------- entry point


def open_source(
    path: str | os.PathLike,
    frames: FrameRange | None = None,
    *,
    input_colorspace: str | None = None,
    working_space: str = WORKING_SPACE,
    missing: str = "error",
    nan: str = "zero",
    first: int = 1001,
    warn: Callable[[str], None] | None = None,
) -> Source:
    """Open a still, a sequence pattern, a folder of stills or a movie for streaming.

    Args:
        path: ``plate.####.exr`` / ``plate.%04d.exr`` / ``plate.@.exr``, a single image,
            a folder of images, or a movie (``.mov``, ``.mp4`` ...).
        frames: the frames to read (shot numbers); default all found (for a sequence,
            first to last on disk, so holes count as missing).
        input_colorspace: override the input colour space (any name or alias of the config).
        working_space: colour space of the frames returned (scene-linear).
        missing: ``"error"`` (list them), ``"hold"`` (repeat the previous frame) or
            ``"black"`` (RGB 0, alpha 0).
        nan: ``"zero"`` (set NaN/Inf to 0 and warn with the count) or ``"error"``.
        first: shot number of a movie's first frame.
        warn: called with one-line warnings (default: ``logging`` warning).

    Raises:
        VfxkeyError: for any problem with the input, naming the file (and frame).
    """
    if missing not in MISSING_POLICIES or nan not in NAN_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, nan one of {NAN_POLICIES}")
    path = str(path)
    options = dict(
        working_space=check_colorspace(working_space), missing=missing, nan=nan,
        warn=warn or logger.warning,
    )
    input_colorspace = None if input_colorspace is None else check_colorspace(input_colorspace)
    asked = None if frames is None else list(frames)

    if has_frame_token(path):
        found = scan_frames(path)
        if not found:
            raise VfxkeyError(f"{path}: no frames found")
        files = {f: frame_path(path, f) for f in found}
        asked = asked or list(range(found[0], found[-1] + 1))
        return ImageSource(path, "sequence", files, asked, input_colorspace=input_colorspace, **options)

    if os.path.isdir(path):
        stills = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in STILL_EXTENSIONS)
        if not stills:
            raise VfxkeyError(f"{path}: folder holds no images ({', '.join(STILL_EXTENSIONS)})")
        files = {n: str(p) for n, p in enumerate(stills, start=1)}
        return ImageSource(path, "stills", files, asked or list(files), input_colorspace=input_colorspace, **options)

    if not os.path.exists(path):
        raise VfxkeyError(f"{path}: no such file or folder")
    if os.path.getsize(path) == 0:
        raise VfxkeyError(f"{path}: empty file")
    if path.lower().endswith(MOVIE_EXTENSIONS):
        return MovieSource(path, frames, first, input_colorspace=input_colorspace, **options)
    return ImageSource(path, "still", {1: path}, asked or [1], input_colorspace=input_colorspace, **options)


def read_metadata(path: str) -> dict[str, object]:
    """The header attributes of an image file (e.g. ``vfxkey:seed`` -> 7), without reading its pixels."""
    return read_header(path).attributes
