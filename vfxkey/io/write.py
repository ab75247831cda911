"""Writers: premultiplied half-float EXR, ProRes 4444 movies and 8-bit PNG previews.

Every file is written under a temporary name in its destination folder and moved into
place with ``os.replace`` only when complete (:func:`atomic_output`), so a run that is
killed or fails never leaves a partial file under the final name. Missing folders are
created.

Conventions of the files written here:

- **EXR**: half-float ``R,G,B,A``, colour premultiplied by alpha (OpenEXR's convention),
  scene-linear in the working space, named in ``oiio:ColorSpace``; ``vfxkey:*`` metadata
  records the software version, source, frame and the settings that produced it.
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
import tempfile
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenImageIO as oiio
from av.video.reformatter import ColorRange, Colorspace

from vfxkey import __version__
from vfxkey.errors import VfxkeyError, where
from vfxkey.io.background import Worker
from vfxkey.io.colour import VIDEO_SPACE, WORKING_SPACE, check_colorspace, convert, display_8bit
from vfxkey.io.read import MOVIE_EXTENSIONS, unpremultiply
from vfxkey.io.sequence import frame_path, has_frame_token

logger = logging.getLogger(__name__)

# OpenEXR compressions we accept by name (OIIO silently falls back to zip for unknown
# names, so they are checked here). zip/zips/piz/rle/none are lossless; dwaa/dwab are lossy.
EXR_COMPRESSIONS = ("zip", "zips", "piz", "rle", "none", "dwaa", "dwab")

MOVIE_ALPHA_CONVENTION = "straight"
_MOVIE_COMMENT = (
    "vfxkey ProRes 4444: straight (un-premultiplied) colour, Camera Rec.709 (BT.709) encoded, "
    "16-bit alpha"
)

_UMASK = os.umask(0)
os.umask(_UMASK)

Metadata = Mapping[str, "str | int | float"]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    The temporary name is hidden (leading dot) and keeps the extension so format-guessing
    writers (OIIO, PyAV) pick the right format. If the block raises, the temporary file is
    removed and ``path`` is left untouched. Missing parent folders are created.

    Raises:
        VfxkeyError: the destination folder cannot be created or written to.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=folder)
    except OSError as exc:
        raise VfxkeyError(f"{path}: cannot write to folder {folder}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def check_compression(compression: str) -> str:
    """Return ``compression`` if it is a known OpenEXR compression, else raise :class:`VfxkeyError`."""
    if compression not in EXR_COMPRESSIONS:
        raise VfxkeyError(
            f"unknown EXR compression {compression!r}; choose one of {', '.join(EXR_COMPRESSIONS)}"
        )
    return compression


def _alpha_bbox(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the pixels with alpha != 0 (a 1x1 box when there are none)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return 0, 0, 1, 1
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


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
) -> None:
    """Write a half-float RGBA EXR atomically.

    Args:
        path: destination ``.exr``.
        rgba: ``(H, W, 4)`` float, colour premultiplied by alpha, scene-linear in ``colorspace``.
        colorspace: the colour space of ``rgba`` (usually the working space), stored as
            ``oiio:ColorSpace`` (OpenEXR ``colorInteropID``) and ``vfxkey:colorspace``.
        metadata: settings to record; each key is stored as ``vfxkey:<key>`` (keys that
            already hold a ``:`` are stored as given).
        compression: one of :data:`EXR_COMPRESSIONS` (default ``zip``, lossless).
        crop_to_alpha: store only the bounding box of alpha != 0 as the data window; the
            display window stays the full frame.
        fps: stored as ``FramesPerSecond`` (a rational).
        frame: the shot frame number, stored as ``vfxkey:frame``.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"write_exr takes (H, W, 4) RGBA, got shape {rgba.shape}")
    height, width = rgba.shape[:2]

    spec = oiio.ImageSpec(width, height, 4, "half")
    spec.channelnames = ("R", "G", "B", "A")
    spec.alpha_channel = 3
    spec["compression"] = check_compression(compression)
    # OIIO stores oiio:ColorSpace as OpenEXR's colorInteropID ("lin_ap1_scene" for ACEScg),
    # and drops names without an interop ID, so the config's name is kept as well.
    spec["oiio:ColorSpace"] = spec["vfxkey:colorspace"] = check_colorspace(colorspace)
    spec["vfxkey:version"] = __version__
    if frame is not None:
        spec["vfxkey:frame"] = int(frame)
    if fps is not None:
        fps = Fraction(fps)
        spec.attribute("FramesPerSecond", oiio.TypeDesc("rational2i"), (fps.numerator, fps.denominator))
    for key, value in (metadata or {}).items():
        spec[key if ":" in key else f"vfxkey:{key}"] = value if isinstance(value, (int, float)) else str(value)

    if crop_to_alpha:
        # Data window = alpha's bounding box; the display window (full_*) stays the frame.
        x, y, w, h = _alpha_bbox(rgba[..., 3])
        spec.x, spec.y, spec.width, spec.height = x, y, w, h
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, width, height
        rgba = rgba[y : y + h, x : x + w]

    with atomic_output(path) as tmp:
        out = oiio.ImageOutput.create(tmp)
        if out is None or not out.open(tmp, spec):
            raise VfxkeyError(f"{path}: cannot write EXR: {oiio.geterror() or out.geterror()}")
        ok = out.write_image(np.ascontiguousarray(rgba, dtype=np.float32))
        error = out.geterror()
        ok = out.close() and ok
        if not ok:
            raise VfxkeyError(f"{where(path, frame)}: cannot write EXR: {error or out.geterror()}")


class ProResWriter:
    """Stream frames into a ProRes 4444 ``.mov`` (straight colour, Camera Rec.709, 16-bit alpha).

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
        metadata: Metadata | None = None,
    ) -> None:
        self.path = str(path)
        self.width, self.height = int(width), int(height)
        self.working_space = check_colorspace(working_space)
        if self.width % 16:
            logger.warning(
                "%s: width %d is not a multiple of 16; FFmpeg's ProRes encoder may corrupt a block "
                "now and then at such widths: check the movie, or write EXRs", self.path, self.width)
        self._count = 0
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_output(path))
        try:
            # use_metadata_tags lets the mov muxer store our own keys (vfxkey:*).
            self._container = av.open(tmp, "w", format="mov", options={"movflags": "use_metadata_tags"})
            self._container.metadata["comment"] = _MOVIE_COMMENT
            self._container.metadata["vfxkey:alpha"] = MOVIE_ALPHA_CONVENTION
            self._container.metadata["vfxkey:colorspace"] = VIDEO_SPACE
            self._container.metadata["vfxkey:version"] = __version__
            for key, value in (metadata or {}).items():
                self._container.metadata[key if ":" in key else f"vfxkey:{key}"] = str(value)

            stream = self._container.add_stream("prores_ks", rate=Fraction(fps))
            stream.width, stream.height = self.width, self.height
            stream.pix_fmt = "yuva444p10le"
            stream.options = {"profile": "4444", "vendor": "apl0", "alpha_bits": "16"}
            _tag_bt709(stream.codec_context)
            self._stream = stream
        except BaseException:
            self._stack.__exit__(*sys.exc_info())  # removes the temporary file
            raise

    def write(self, rgba_premultiplied: np.ndarray, *, frame: int | None = None) -> None:
        """Encode one frame.

        Args:
            rgba_premultiplied: ``(H, W, 4)`` float, premultiplied, scene-linear in the
                working space. Stored straight and Rec.709 encoded, clipped to 0..1.
            frame: the shot frame number, for error messages only.
        """
        if rgba_premultiplied.shape != (self.height, self.width, 4):
            raise VfxkeyError(
                f"{where(self.path, frame)}: frame is {rgba_premultiplied.shape[1]}x"
                f"{rgba_premultiplied.shape[0]} but the movie is {self.width}x{self.height}"
            )
        straight = unpremultiply(np.array(rgba_premultiplied, dtype=np.float32))
        alpha = straight[..., 3]
        encoded = np.clip(convert(straight[..., :3], self.working_space, VIDEO_SPACE), 0.0, 1.0)
        # gbrapf32le planes are G, B, R, A. Convert to Y'CbCr ourselves with the BT.709
        # matrix and video range (letting the encoder convert would use BT.601).
        gbra = np.stack([encoded[..., 1], encoded[..., 2], encoded[..., 0], np.clip(alpha, 0.0, 1.0)], axis=-1)
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(gbra, dtype=np.float32), format="gbrapf32le")
        video_frame = video_frame.reformat(
            format="yuva444p10le",
            src_colorspace=Colorspace.ITU709,
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
        _tag_bt709(video_frame)
        video_frame.pts = self._count
        self._count += 1
        self._container.mux(self._stream.encode(video_frame))

    def close(self) -> None:
        """Flush the encoder, close the file and move it into place."""
        with self._stack:
            self._container.mux(self._stream.encode(None))
            self._container.close()

    def __enter__(self) -> ProResWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close on success; on an exception delete the temporary file (nothing appears)."""
        if exc_type is None:
            self.close()
            return
        try:
            self._container.close()
        finally:
            self._stack.__exit__(exc_type, exc, tb)


def _tag_bt709(target: av.VideoFrame | av.video.codeccontext.VideoCodecContext) -> None:
    """Tag a codec context or frame as BT.709 primaries, transfer and matrix, video range."""
    target.color_primaries = 1  # AVCOL_PRI_BT709
    target.color_trc = 1  # AVCOL_TRC_BT709
    target.colorspace = 1  # AVCOL_SPC_BT709
    target.color_range = 1  # AVCOL_RANGE_MPEG


def write_preview_png(
    path: str | os.PathLike,
    rgb: np.ndarray,
    *,
    working_space: str = WORKING_SPACE,
    alpha: np.ndarray | None = None,
) -> None:
    """Write an 8-bit sRGB PNG for a person to look at.

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
    spec["oiio:UnassociatedAlpha"] = 1  # the data is straight already: OIIO must not divide
    with atomic_output(path) as tmp:
        out = oiio.ImageOutput.create(tmp)
        if out is None or not out.open(tmp, spec) or not out.write_image(pixels) or not out.close():
            raise VfxkeyError(f"{path}: cannot write PNG: {oiio.geterror()}")


class FrameWriter:
    """Writes a run of frames to one output, chosen by the output's form:

    - ``name.####.exr`` (any frame token): one EXR per frame;
    - ``name.exr`` (no token): a single EXR, only for a one-frame run;
    - ``name.mov``: one ProRes 4444 movie, frames in the order written;
    - ``folder/`` (trailing slash, or an existing folder): one EXR per input still,
      named after the still (``source_name``'s stem + ``.exr``).

    EXRs are premultiplied half float in the working space; see the module docstring.
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
        metadata: Metadata | None = None,
    ) -> None:
        self.output = str(output)
        self.working_space = check_colorspace(working_space)
        self.fps = None if fps is None else Fraction(fps)
        self.compression = check_compression(compression)
        self.crop_to_alpha = crop_to_alpha
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
    ) -> str:
        """Queue one frame for writing and return the file it goes to.

        Args:
            frame: the shot frame number (fills the token; recorded in EXR metadata).
            rgba_premultiplied: ``(H, W, 4)`` float, premultiplied, scene-linear in the
                working space. It is encoded later: do not modify it after this call.
            source_name: the input file this frame came from (recorded as
                ``vfxkey:source``; names the file in folder mode).
            metadata: per-frame settings, added to the run's ``metadata``.
        """
        if self._worker is None:
            self._worker = Worker("write")
        if self.kind == "movie":
            self._worker.submit(self._write_movie_frame, frame, rgba_premultiplied)
            return self.output

        path = self._exr_path(frame, source_name)
        settings = {**self.metadata, **(metadata or {})}
        if source_name is not None:
            settings["source"] = str(source_name)
        self._worker.submit(
            write_exr, path, rgba_premultiplied, colorspace=self.working_space, metadata=settings,
            compression=self.compression, crop_to_alpha=self.crop_to_alpha, fps=self.fps, frame=frame,
        )
        return path

    def _write_movie_frame(self, frame: int, rgba_premultiplied: np.ndarray) -> None:
        """Encode one movie frame (on the worker thread); the movie opens on the first."""
        if self._movie is None:
            height, width = rgba_premultiplied.shape[:2]
            self._movie = ProResWriter(
                self.output, width, height, self.fps or Fraction(24),
                working_space=self.working_space, metadata=self.metadata,
            )
        self._movie.write(rgba_premultiplied, frame=frame)

    def _exr_path(self, frame: int, source_name: str | None) -> str:
        if self.kind == "sequence":
            return frame_path(self.output, frame)
        if self.kind == "single":
            return self.output
        if source_name is None or str(source_name).lower().endswith(MOVIE_EXTENSIONS):
            raise VfxkeyError(
                f"{self.output}: a folder output takes stills (one EXR per input file); "
                "for a movie or generated frames give name.####.exr"
            )
        path = os.path.join(self.output, Path(source_name).stem + ".exr")
        if path in self._written:
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
        are still written (each is complete in itself) and a movie is deleted."""
        try:
            if self._worker is not None:
                if exc_type is None or self.kind != "movie":
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
