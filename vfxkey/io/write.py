"""Writers: premultiplied half-float EXR, ProRes 4444 movies and 8-bit PNG previews.

Every file is written under a temporary name in its destination folder and moved into
place with ``os.replace`` only when complete (:func:`atomic_output`), so a run that is
killed or fails never leaves a partial file under the final name. Missing folders are
created.

Conventions of the files written here:

- **EXR**: half-float (or float) ``R,G,B,A``, colour premultiplied by alpha (OpenEXR's
  convention), scene-linear in the working space, named in ``oiio:ColorSpace``; ``vfxkey:*``
  metadata records the software version, source, frame and the settings that produced it.
  The display window and data window are the ones given (the input's, see
  :mod:`vfxkey.io.window`). No file holds NaN or Inf: NaN is written as 0 and values
  beyond the data type's range (half: +-65504) are clamped to it, with a warning that
  counts them.
- **ProRes 4444 .mov**: *straight* (un-premultiplied) colour encoded as ``Camera Rec.709``
  (BT.709 primaries, transfer and matrix, video range) and a 16-bit alpha channel; ProRes
  has no premultiplied flag, so the convention is written into the movie's metadata
  (``vfxkey:alpha = straight`` and the ``comment``).
- **PNG previews**: 8-bit sRGB for a person to look at, straight alpha.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import OpenImageIO as oiio

from vfxkey import __version__
from vfxkey.errors import DataError, VfxkeyError, first_line, where
from vfxkey.io.background import Worker
from vfxkey.io.colour import (
    VIDEO_SPACE,
    WORKING_SPACE,
    check_colorspace,
    chromaticities,
    convert,
    display_8bit,
    review_display_view,
    to_review,
)
from vfxkey.io.exr_options import EXR_DATA_TYPES, check_compression, check_data_type
from vfxkey.io.files import atomic_output
from vfxkey.io.frame import MOVIE_EXTENSIONS, unpremultiply
from vfxkey.io.sequence import frame_path, has_frame_token
from vfxkey.io.window import Window, reframe

if TYPE_CHECKING:  # PyAV is imported when a movie is written: writing EXRs never pays for it
    import av

logger = logging.getLogger(__name__)

_LARGEST_HALF_BITS = 0x7BFF  # 65504 as float16 bits, sign aside; NaN and Inf lie above it

MOVIE_ALPHA_CONVENTION = "straight"
# ffmpeg's transfer (AVColorTransferCharacteristic) of each display a movie may be encoded for.
_DISPLAY_TRC = {"sRGB - Display": 13}  # AVCOL_TRC_IEC61966_2_1; other displays are tagged BT.709

Metadata = Mapping[str, "str | int | float"]


def finite_pixels(pixels: np.ndarray, limit: float, name: str, warn: Callable[[str], None] | None = None
                  ) -> np.ndarray:
    """``pixels`` as float32 with NaN set to 0 and values beyond +-``limit`` (Inf included)
    clamped to it, so that the file written holds no NaN or Inf. A warning naming ``name``
    counts the values changed. The caller's array is never modified."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.size == 0 or (pixels.max() <= limit and pixels.min() >= -limit):  # NaN fails both
        return pixels
    nan = np.isnan(pixels)
    beyond = np.abs(pixels) > limit  # NaN compares False
    nan_count, beyond_count = int(np.count_nonzero(nan)), int(np.count_nonzero(beyond))
    changes = [f"{nan_count} NaN pixel values set to 0"] if nan_count else []
    if beyond_count:
        changes.append(f"{beyond_count} pixel values beyond +-{limit:.6g} (Inf included) clamped to it")
    (warn or logger.warning)(f"{name}: {', '.join(changes)}")
    return np.clip(np.where(nan, np.float32(0.0), pixels), -limit, limit).astype(np.float32)


def _finite_half(pixels: np.ndarray) -> bool:
    """Whether a float16 array holds no NaN or Inf: their exponent bits are all ones (read
    from the bits: NumPy's float16 ``isfinite`` takes 9 ms a 1080p RGBA frame, this 1 ms)."""
    return pixels.size == 0 or int((np.ascontiguousarray(pixels).view(np.uint16) & 0x7C00).max()) < 0x7C00


def stored_pixels(pixels: np.ndarray, data_type: str, name: str, warn: Callable[[str], None] | None = None
                  ) -> np.ndarray:
    """``pixels`` as an EXR of ``data_type`` stores them: finite (:func:`finite_pixels`, a
    warning naming ``name``), float16 for ``"half"`` (converted here by :func:`_half`, faster
    than OIIO converts), else float32. A finite float16 array is returned as it is."""
    if pixels.dtype == np.float16 and data_type == "half" and _finite_half(pixels):
        return pixels
    if data_type == "half" and pixels.dtype == np.float32:
        # Convert first and look at the result: a float32 value that is NaN or beyond the
        # half range shows as NaN, Inf or the largest half, so when all are below that the
        # conversion is the answer (two passes fewer over the frame than checking first).
        half = _half(pixels)
        if half.size == 0 or int((half.view(np.uint16) & 0x7FFF).max()) < _LARGEST_HALF_BITS:
            return half
    stored = finite_pixels(pixels, EXR_DATA_TYPES[check_data_type(data_type)], name, warn)
    return _half(stored) if data_type == "half" else stored


def _half(pixels: np.ndarray) -> np.ndarray:
    """float32 ``pixels`` as float16, rounded as NumPy's ``astype`` rounds them (to nearest,
    ties to even; the same bits, checked over every 101st float32 bit pattern), by OpenCV's
    vectorised conversion: NumPy's own cast goes value by value, 150x slower on a 1080p
    RGBA frame (300 ms of CPU against 2 ms). OpenCV is imported here, not with this module:
    importing it changes the process's environment (LD_LIBRARY_PATH)."""
    import cv2

    if pixels.size == 0:
        return pixels.astype(np.float16)
    rows = np.ascontiguousarray(pixels).reshape(pixels.shape[0] if pixels.ndim > 1 else 1, -1)
    return cv2.multiply(rows, 1.0, dtype=cv2.CV_16F).reshape(pixels.shape)  # one channel: the scalar is 1.0


def _alpha_bbox(alpha: np.ndarray, window: Window) -> Window:
    """The part of ``window`` (which ``alpha`` covers) where alpha != 0; its top-left pixel
    when there is none (a data window cannot be empty)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return Window(window.x, window.y, 1, 1)
    return Window(window.x + int(cols[0]), window.y + int(rows[0]),
                  int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def write_exr(
    path: str | os.PathLike,
    rgba: np.ndarray,
    *,
    colorspace: str,
    metadata: Metadata | None = None,
    compression: str = "zip",
    crop_to_alpha: bool = False,
    fps: Fraction | None = None,
    frame: int | None = None,
    data_window: Window | None = None,
    display_window: Window | None = None,
    data_type: str = "half",
    warn: Callable[[str], None] | None = None,
) -> None:
    """Write an RGBA EXR atomically.

    Args:
        path: destination ``.exr``.
        rgba: ``(H, W, 4)`` float, colour premultiplied by alpha, scene-linear in ``colorspace``,
            covering ``data_window``. A finite float16 array is written to a half EXR as it is.
        colorspace: the colour space of ``rgba`` (usually the working space), stored as
            ``oiio:ColorSpace`` (OpenEXR ``colorInteropID``) and ``vfxkey:colorspace``, with
            its ``chromaticities`` (primaries and white, CIE xy) when it is one of the linear
            spaces :func:`vfxkey.io.colour.chromaticities` knows.
        metadata: settings to record; each key is stored as ``vfxkey:<key>`` (keys that
            already hold a ``:`` are stored as given).
        compression: one of :data:`vfxkey.io.exr_options.EXR_COMPRESSIONS` (default ``zip``, lossless).
        crop_to_alpha: store only the bounding box of alpha != 0 within the data window.
        fps: stored as ``FramesPerSecond`` (a rational).
        frame: the shot frame number, stored as ``vfxkey:frame``.
        data_window: where ``rgba`` sits in the display window's coordinates (default ``0, 0``).
        display_window: the format (default: ``rgba``'s size at ``0, 0``).
        data_type: ``"half"`` (default) or ``"float"``. NaN is written as 0 and values beyond
            the type's range (half: +-65504) are clamped to it, with a warning counting them.
        warn: called with that one-line warning (default: ``logging`` warning).
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"write_exr takes (H, W, 4) RGBA, got shape {rgba.shape}")
    data_window = data_window or Window.of(rgba)
    display_window = display_window or Window.of(rgba)
    if rgba.shape[:2] != data_window.shape:
        raise ValueError(f"write_exr: rgba of shape {rgba.shape[:2]} does not cover data window {data_window}")
    check_data_type(data_type)

    spec = oiio.ImageSpec(data_window.width, data_window.height, 4, data_type)
    spec.channelnames = ("R", "G", "B", "A")
    spec.alpha_channel = 3
    spec["compression"] = check_compression(compression)
    # OIIO stores oiio:ColorSpace as OpenEXR's colorInteropID ("lin_ap1_scene" for ACEScg),
    # and drops names without an interop ID, so the config's name is kept as well.
    spec["oiio:ColorSpace"] = spec["vfxkey:colorspace"] = check_colorspace(colorspace)
    primaries = chromaticities(colorspace)  # OpenEXR's standard attribute, for readers without OCIO
    if primaries is not None:
        spec.attribute("chromaticities", oiio.TypeDesc("float[8]"), primaries)
    spec["vfxkey:version"] = __version__
    if frame is not None:
        spec["vfxkey:frame"] = int(frame)
    if fps is not None:
        fps = Fraction(fps)
        spec.attribute("FramesPerSecond", oiio.TypeDesc("rational2i"), (fps.numerator, fps.denominator))
    for key, value in (metadata or {}).items():
        spec[key if ":" in key else f"vfxkey:{key}"] = value if isinstance(value, (int, float)) else str(value)

    if crop_to_alpha:
        box = _alpha_bbox(rgba[..., 3], data_window)
        rgba, data_window = reframe(rgba, data_window, box), box
    # Data window = the pixels held (x, y, width, height); display window (full_*) = the format.
    spec.x, spec.y, spec.width, spec.height = data_window.x, data_window.y, data_window.width, data_window.height
    spec.full_x, spec.full_y = display_window.x, display_window.y
    spec.full_width, spec.full_height = display_window.width, display_window.height
    rgba = stored_pixels(rgba, data_type, where(path, frame), warn)

    with atomic_output(path) as tmp:
        _write_image(tmp, spec, np.ascontiguousarray(rgba), f"{where(path, frame)}: cannot write EXR")


def _write_image(tmp: str, spec: oiio.ImageSpec, pixels: np.ndarray, failure: str) -> None:
    """Write ``pixels`` to the temporary ``tmp`` with OIIO, checking its error state after
    the write and after closing: OIIO's PNG writer returns success on a full disk and only
    its error state tells (the first line of it ends ``failure``'s message)."""
    out = oiio.ImageOutput.create(tmp)
    if out is None:
        raise DataError(f"{failure}: {first_line(oiio.geterror())}")
    ok = out.open(tmp, spec) and out.write_image(pixels) and not out.has_error
    error = out.geterror()
    ok = out.close() and ok and not out.has_error
    if not ok:
        raise DataError(f"{failure}: {first_line(error or out.geterror() or oiio.geterror())}")


class ProResWriter:
    """Stream frames into a ProRes 4444 ``.mov``.

    Two kinds of movie:

    - **interchange** (default): scene-referred ``Camera Rec.709`` (BT.709) encoded colour,
      for a compositing package to linearise again;
    - **review** (``review=True``, the shot's comp movie): display code values through the
      review display and view (:data:`vfxkey.io.colour.REVIEW_DISPLAY` /
      :data:`~vfxkey.io.colour.REVIEW_VIEW`, as the PNG previews), tagged with that
      display's transfer, so the movie and the previews show the same levels.

    With ``alpha`` (content that has alpha: a keyed element) colour is stored straight
    (un-premultiplied) with a 16-bit alpha; without it (an opaque comp) the movie has no
    alpha plane. ``timecode`` (``HH:MM:SS:FF``) is the first frame's, written as the
    movie's timecode track. The choices are recorded in the movie's metadata
    (``vfxkey:alpha``, ``vfxkey:colorspace`` or ``vfxkey:display`` / ``vfxkey:view``).

    Use as a context manager; the movie appears under ``path`` only when it is closed
    without error. Frames are encoded in the order written.

    Known upstream defect: at some widths that are not a multiple of 16 (56, 120 and
    200 px seen), FFmpeg's ProRes encoders (``prores_ks`` and ``prores_aw`` in PyAV 18)
    now and then write a corrupt block (errors of 0.5 in 1-10% of encodes). No such error
    was seen at 640x360, 1920x1080 or 1998x1080, nor at widths 640 to 3840 that are
    multiples of 16. Widths that are not a multiple of 16 get a warning.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        fps: Fraction,
        *,
        working_space: str = WORKING_SPACE,
        alpha: bool = True,
        review: bool = False,
        timecode: str | None = None,
        metadata: Metadata | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = str(path)
        self.width, self.height = int(width), int(height)
        self.working_space = check_colorspace(working_space)
        self.alpha, self.review = alpha, review
        self.warn = warn
        if self.width % 16:
            logger.warning(
                "%s: width %d is not a multiple of 16; FFmpeg's ProRes encoder may corrupt a block "
                "now and then at such widths: check the movie, or write EXRs", self.path, self.width)
        import av

        self._count = 0
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_output(path))
        try:
            # use_metadata_tags lets the mov muxer store our own keys (vfxkey:*).
            self._container = av.open(tmp, "w", format="mov", options={"movflags": "use_metadata_tags"})
            display, view = self._display_view = review_display_view()
            colour = f"display {display!r}, view {view!r} (review)" if review else f"{VIDEO_SPACE} (BT.709) encoded"
            self._container.metadata["comment"] = (
                f"vfxkey ProRes 4444: {'straight (un-premultiplied) colour' if alpha else 'colour'}, {colour}, "
                f"{'16-bit alpha' if alpha else 'no alpha'}")
            self._container.metadata["vfxkey:alpha"] = MOVIE_ALPHA_CONVENTION if alpha else "none"
            if review:
                self._container.metadata["vfxkey:display"] = display
                self._container.metadata["vfxkey:view"] = view
            else:
                self._container.metadata["vfxkey:colorspace"] = VIDEO_SPACE
            if timecode is not None:
                self._container.metadata["timecode"] = timecode  # the mov muxer's tmcd track
            self._container.metadata["vfxkey:version"] = __version__
            for key, value in (metadata or {}).items():
                self._container.metadata[key if ":" in key else f"vfxkey:{key}"] = str(value)

            stream = self._container.add_stream("prores_ks", rate=Fraction(fps))
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = self._pix_fmt = "yuva444p10le" if alpha else "yuv444p10le"
            stream.options = {"profile": "4444", "vendor": "apl0", "alpha_bits": "16" if alpha else "0"}
            _tag_bt709(stream.codec_context, self._trc)
            self._stream = stream
        except (av.error.FFmpegError, OSError, ValueError) as exc:  # e.g. a rate the muxer cannot store
            self._stack.close()  # removes the temporary file
            raise DataError(f"{self.path}: cannot write the movie: {_av_message(exc)}") from None
        except BaseException:
            self._stack.__exit__(*sys.exc_info())  # removes the temporary file
            raise

    def write(self, rgba_premultiplied: np.ndarray, *, frame: int | None = None) -> None:
        """Encode one frame.

        Args:
            rgba_premultiplied: ``(H, W, 4)`` float, premultiplied, scene-linear in the
                working space. Stored straight and Rec.709 encoded, clipped to 0..1; NaN is
                stored as 0 (with a warning that counts them).
            frame: the shot frame number, for error and warning messages only.
        """
        if rgba_premultiplied.shape != (self.height, self.width, 4):
            raise VfxkeyError(
                f"{where(self.path, frame)}: frame is {rgba_premultiplied.shape[1]}x"
                f"{rgba_premultiplied.shape[0]} but the movie is {self.width}x{self.height}"
            )
        import av
        from av.video.reformatter import ColorRange, Colorspace

        finite = finite_pixels(rgba_premultiplied, EXR_DATA_TYPES["float"], where(self.path, frame), self.warn)
        # With alpha, colour is stored straight; without, the picture as it shows (over black).
        rgba = unpremultiply(np.array(finite, dtype=np.float32)) if self.alpha else np.array(finite, np.float32)
        if self.review:
            encoded = to_review(rgba[..., :3], self.working_space)
        else:
            encoded = np.clip(convert(rgba[..., :3], self.working_space, VIDEO_SPACE), 0.0, 1.0)
        # Convert to Y'CbCr ourselves with the BT.709 matrix and video range (letting the
        # encoder convert would use BT.601). PyAV 18 takes a gbrapf32le array in R, G, B, A
        # order and stores it as its G, B, R, A planes itself.
        rgba = np.dstack([encoded, np.clip(rgba[..., 3], 0.0, 1.0)])
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba, dtype=np.float32), format="gbrapf32le")
        video_frame = video_frame.reformat(
            format=self._pix_fmt,
            src_colorspace=Colorspace.ITU709,
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
        _tag_bt709(video_frame, self._trc)
        video_frame.pts = self._count
        self._count += 1
        with _movie_errors(self.path, frame):
            self._container.mux(self._stream.encode(video_frame))

    @property
    def _trc(self) -> int:
        """The movie's transfer: the review display's, else BT.709 (Camera Rec.709)."""
        return _DISPLAY_TRC.get(self._display_view[0], 1) if self.review else 1

    def close(self) -> None:
        """Flush the encoder, close the file and move it into place."""
        with self._stack, _movie_errors(self.path):
            self._container.mux(self._stream.encode(None))
            self._container.close()

    def __enter__(self) -> ProResWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close on success; on an exception delete the temporary file (nothing appears)."""
        import av

        if exc_type is None:
            self.close()
            return
        try:
            with contextlib.suppress(av.error.FFmpegError, OSError):  # the exception on its way is the first
                self._container.close()
        finally:
            self._stack.__exit__(exc_type, exc, tb)


@contextlib.contextmanager
def _movie_errors(path: str, frame: int | None = None) -> Iterator[None]:
    """PyAV's errors while encoding or muxing (a full disk is an ``OSError``) as a one-line
    :class:`VfxkeyError` naming the movie and the frame."""
    import av

    try:
        yield
    except (av.error.FFmpegError, OSError) as exc:
        raise DataError(f"{where(path, frame)}: cannot write the movie: {_av_message(exc)}") from None


def _av_message(exc: Exception) -> str:
    """PyAV's message without the file name it appends (the caller names the file)."""
    return getattr(exc, "strerror", None) or str(exc)


def _tag_bt709(target: av.VideoFrame | av.video.codeccontext.VideoCodecContext, trc: int = 1) -> None:
    """Tag a codec context or frame as BT.709 primaries and matrix, video range, and the
    transfer ``trc`` (default 1, AVCOL_TRC_BT709)."""
    target.color_primaries = 1  # AVCOL_PRI_BT709
    target.color_trc = trc
    target.colorspace = 1  # AVCOL_SPC_BT709
    target.color_range = 1  # AVCOL_RANGE_MPEG


def write_preview_png(
    path: str | os.PathLike,
    rgb: np.ndarray,
    *,
    working_space: str = WORKING_SPACE,
    alpha: np.ndarray | None = None,
) -> None:
    """Write an 8-bit PNG for a person to look at, through the review display and view
    (:data:`vfxkey.io.colour.REVIEW_DISPLAY` / ``REVIEW_VIEW``, as the comp movie), which
    the file records as ``vfxkey:display`` / ``vfxkey:view`` text.

    Args:
        rgb: ``(H, W, 3)`` scene-linear colour in ``working_space``; *straight* colour when
            ``alpha`` is given (un-premultiply first, e.g. ``Frame.straight_rgba()``).
        alpha: optional ``(H, W)`` alpha in 0..1, stored as a straight alpha channel.
    """
    pixels = display_8bit(rgb, working_space)
    if alpha is not None:
        pixels = np.concatenate([pixels, np.round(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)[..., None]], axis=-1)
    height, width, nchannels = pixels.shape
    spec = oiio.ImageSpec(width, height, nchannels, "uint8")
    spec["oiio:ColorSpace"] = "srgb_rec709_scene"
    spec["vfxkey:display"], spec["vfxkey:view"] = review_display_view()
    spec["oiio:UnassociatedAlpha"] = 1  # the data is straight already: OIIO must not divide
    with atomic_output(path) as tmp:
        _write_image(tmp, spec, pixels, f"{path}: cannot write PNG")


class FrameWriter:
    """Writes a run of frames to one output, chosen by the output's form:

    - ``name.####.exr`` (any frame token): one EXR per frame;
    - ``name.exr`` (no token): a single EXR, only for a one-frame run;
    - ``name.mov``: one ProRes 4444 movie, frames in the order written;
    - ``folder/`` (trailing slash, or an existing folder): one EXR per input still,
      named after the still (``source_name``'s stem + ``.exr``).

    EXRs are premultiplied half (or float) in the working space and keep the windows each
    frame is written with; a movie shows the display window (the format): data outside it
    is dropped, and display-window pixels outside the data window are transparent black.
    See the module docstring. A movie has alpha when ``movie_alpha`` (say False for opaque
    content) and ``timecode`` (its first frame's) as its timecode track.
    Frames are encoded on a background thread (:class:`~vfxkey.io.background.Worker`)
    while the caller works on the next one; an encoding error is raised by a later
    :meth:`write` or on leaving the ``with`` block. Use as a context manager.
    """

    def __init__(
        self,
        output: str | os.PathLike,
        *,
        frame_count: int,
        working_space: str = WORKING_SPACE,
        fps: Fraction | None = None,
        compression: str = "zip",
        crop_to_alpha: bool = False,
        data_type: str = "half",
        metadata: Metadata | None = None,
        movie_alpha: bool = True,
        timecode: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.output = str(output)
        self.movie_alpha, self.timecode = movie_alpha, timecode
        self.working_space = check_colorspace(working_space)
        self.fps = None if fps is None else Fraction(fps)
        self.compression = check_compression(compression)
        self.crop_to_alpha = crop_to_alpha
        self.data_type = check_data_type(data_type)
        self.warn = warn
        self.metadata = dict(metadata or {})
        self._movie: ProResWriter | None = None
        self._written: set[str] = set()
        self._worker: Worker | None = None  # started by the first write

        if self.output.endswith(("/", os.sep)) or os.path.isdir(self.output):
            self.kind = "folder"
        elif self.output.lower().endswith(".mov"):
            self.kind = "movie"
        elif self.output.lower().endswith(".exr"):
            self.kind = "sequence" if has_frame_token(self.output) else "single"
            if self.kind == "single" and frame_count > 1:
                raise VfxkeyError(
                    f"{self.output}: output pattern has no frame token for {frame_count} frames "
                    "(use e.g. name.####.exr)"
                )
        else:
            raise VfxkeyError(
                f"{self.output}: unknown output type; give name.####.exr, name.exr, name.mov or a folder/"
            )

    def write(
        self,
        frame: int,
        rgba_premultiplied: np.ndarray,
        *,
        source_name: str | None = None,
        metadata: Metadata | None = None,
        data_window: Window | None = None,
        display_window: Window | None = None,
    ) -> str:
        """Queue one frame for writing and return the file it goes to.

        Args:
            frame: the shot frame number (fills the token; recorded in EXR metadata).
            rgba_premultiplied: ``(H, W, 4)`` float, premultiplied, scene-linear in the
                working space, covering ``data_window``. It is encoded later: do not modify
                it after this call.
            source_name: the input file this frame came from (recorded as
                ``vfxkey:source``; names the file in folder mode).
            metadata: per-frame settings, added to the run's ``metadata``.
            data_window, display_window: the frame's windows (usually the input frame's,
                :class:`~vfxkey.io.read.Frame`); default the array's size at ``0, 0``.
        """
        if self._worker is None:
            self._worker = Worker("write")
        if self.kind == "movie":
            if data_window is not None and display_window is not None:
                rgba_premultiplied = reframe(rgba_premultiplied, data_window, display_window)
            self._worker.submit(self._write_movie_frame, frame, rgba_premultiplied)
            return self.output

        path = self._exr_path(frame, source_name)
        settings = {**self.metadata, **(metadata or {})}
        if source_name is not None:
            settings["source"] = str(source_name)
        self._worker.submit(
            write_exr, path, rgba_premultiplied, colorspace=self.working_space, metadata=settings,
            compression=self.compression, crop_to_alpha=self.crop_to_alpha, fps=self.fps, frame=frame,
            data_window=data_window, display_window=display_window, data_type=self.data_type, warn=self.warn,
        )
        return path

    def _write_movie_frame(self, frame: int, rgba_premultiplied: np.ndarray) -> None:
        """Encode one movie frame (on the worker thread); the movie opens on the first."""
        if self._movie is None:
            height, width = rgba_premultiplied.shape[:2]
            self._movie = ProResWriter(
                self.output, width, height, self.fps or Fraction(24), working_space=self.working_space,
                alpha=self.movie_alpha, timecode=self.timecode, metadata=self.metadata, warn=self.warn,
            )
        self._movie.write(rgba_premultiplied, frame=frame)

    def target(self, frame: int, source_name: str | None = None) -> str:
        """The file ``frame`` goes to (for a movie, the movie), without writing anything;
        for skipping frames whose output already exists."""
        if self.kind == "sequence":
            return frame_path(self.output, frame)
        if self.kind in ("single", "movie"):
            return self.output
        if source_name is None or str(source_name).lower().endswith(MOVIE_EXTENSIONS):
            raise VfxkeyError(
                f"{self.output}: a folder output takes stills (one EXR per input file); "
                "for a movie or generated frames give name.####.exr"
            )
        return os.path.join(self.output, Path(source_name).stem + ".exr")

    def _exr_path(self, frame: int, source_name: str | None) -> str:
        path = self.target(frame, source_name)
        if self.kind == "folder" and path in self._written:
            raise VfxkeyError(
                f"{where(source_name, frame)}: a second frame would overwrite {path}; "
                "give an output pattern such as name.####.exr"
            )
        self._written.add(path)
        return path

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Wait for the queued frames and finish the output (a movie: flush and move into
        place). On an exception, here or in a queued frame, the EXRs already handed over
        are still written (each is complete in itself) and a movie is deleted. The first
        error is the one raised: one that is already on its way (a frame's, raised by a
        later :meth:`write`) is not replaced by a later frame's."""
        try:
            if self._worker is not None:
                if exc_type is None:
                    self._worker.drain()
                elif self.kind != "movie":
                    with contextlib.suppress(Exception):  # the exception on its way is the first
                        self._worker.drain()
                self._worker.close()
        except BaseException as error:
            self._worker.close()
            if self._movie is not None:
                self._movie.__exit__(type(error), error, error.__traceback__)
            raise
        if self._movie is not None:
            self._movie.__exit__(exc_type, exc, tb)


def open_frame_writer(output: str | os.PathLike, *, frame_count: int, **options) -> FrameWriter:
    """Open a :class:`FrameWriter` for ``output``; ``options`` are its keyword arguments."""
    return FrameWriter(output, frame_count=frame_count, **options)
