"""Readers: stills, image sequences, folders of stills (OpenImageIO, :mod:`vfxkey.io.images`) and
movies (PyAV, :mod:`vfxkey.io.movies`).

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

import logging
import os
from collections.abc import Callable
from pathlib import Path

from vfxkey.errors import DataError
from vfxkey.io.colour import WORKING_SPACE, check_colorspace
from vfxkey.io.frame import MOVIE_EXTENSIONS, STILL_EXTENSIONS
from vfxkey.io.images import ImageSource, read_header
from vfxkey.io.sequence import FrameRange, frame_path, has_frame_token, scan_frames
from vfxkey.io.source import MISSING_POLICIES, NAN_POLICIES, Source

logger = logging.getLogger(__name__)


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
            raise DataError(f"{path}: no frames found")
        files = {f: frame_path(path, f) for f in found}
        asked = asked or list(range(found[0], found[-1] + 1))
        return ImageSource(path, "sequence", files, asked, input_colorspace=input_colorspace, **options)

    if os.path.isdir(path):
        stills = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in STILL_EXTENSIONS)
        if not stills:
            raise DataError(f"{path}: folder holds no images ({', '.join(STILL_EXTENSIONS)})")
        files = {n: str(p) for n, p in enumerate(stills, start=1)}
        return ImageSource(path, "stills", files, asked or list(files), input_colorspace=input_colorspace, **options)

    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or folder")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: empty file")
    if path.lower().endswith(MOVIE_EXTENSIONS):
        from vfxkey.io.movies import MovieSource  # PyAV is loaded for movies only: stills never pay for it

        return MovieSource(path, frames, first, input_colorspace=input_colorspace, **options)
    return ImageSource(path, "still", {1: path}, asked or [1], input_colorspace=input_colorspace, **options)


def read_metadata(path: str) -> dict[str, object]:
    """The header attributes of an image file (e.g. ``vfxkey:seed`` -> 7), without reading its pixels."""
    return read_header(path).attributes
