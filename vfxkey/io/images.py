"""The image reader: stills, image sequences and folders of stills through OpenImageIO.

Steps 1-5 of :mod:`vfxkey.io.read` for image files, and :func:`read_header` (what a file
says about itself, without its pixels). 8/16-bit files are read as code values and
linearised from their colour space; float files as float32. EXR colour is premultiplied
(OpenEXR's convention); PNG/TIFF/DPX alpha is straight.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import OpenImageIO as oiio

from vfxkey.errors import DataError, VfxkeyError, first_line, where
from vfxkey.io.colour import DISPLAY_SPACE, resolve_colorspace, unit_float
from vfxkey.io.frame import Frame
from vfxkey.io.source import Source, SourceInfo, check_missing
from vfxkey.io.window import Window

INTEGER_TYPES = ("uint8", "uint16")  # OIIO data types read as code values, not float


def _open_image(path: str, frame: int | None, *, pixels: bool = False) -> oiio.ImageInput:
    """Open an image file for reading (its ``pixels`` too, or only its header), or raise a
    one-line :class:`DataError`."""
    if not os.path.exists(path):
        raise DataError(f"{where(path, frame)}: no such file")
    if os.path.getsize(path) == 0:
        raise DataError(f"{where(path, frame)}: empty file")
    if path.lower().endswith(".png"):
        _check_png(path, frame, pixels=pixels)
    config = oiio.ImageSpec()
    config["oiio:UnassociatedAlpha"] = 1  # keep straight alpha straight (PNG, TIFF)
    image = oiio.ImageInput.open(path, config)
    if image is None:
        raise DataError(f"{where(path, frame)}: cannot read image: {first_line(oiio.geterror())}")
    return image


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(path: str, frame: int | None, *, pixels: bool) -> None:
    """Walk a PNG's chunks, checking each one's length and CRC: up to ``IEND`` when its
    ``pixels`` are to be read, else up to the first ``IDAT`` (the header libpng reads).

    A truncated or damaged PNG is refused here in one line, before libpng would print its
    own raw ``libpng error:`` line on stderr. A file that is not a PNG inside is left to
    OpenImageIO to name."""
    with open(path, "rb") as file:
        if file.read(8) != PNG_SIGNATURE:
            return
        while len(head := file.read(8)) == 8:
            length, kind = int.from_bytes(head[:4], "big"), head[4:].decode("latin-1")
            if kind == "IDAT" and not pixels:
                return
            body = file.read(length + 4)
            if len(body) < length + 4:
                raise DataError(f"{where(path, frame)}: truncated PNG: its {kind} chunk runs past the end of the file")
            if zlib.crc32(body[:length], zlib.crc32(head[4:])) != int.from_bytes(body[length:], "big"):
                raise DataError(f"{where(path, frame)}: damaged PNG: its {kind} chunk fails its CRC check")
            if kind == "IEND":
                return
    raise DataError(f"{where(path, frame)}: truncated PNG: it ends before its IEND chunk")


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


def read_stored(path: str) -> tuple[np.ndarray, Window, Window]:
    """The pixels of an image file exactly as stored, as float32 ``(H, W, C)`` over its data
    window (no colour conversion; EXR colour premultiplied, as OpenEXR stores it), its data
    window and its display window. :class:`VfxkeyError` naming the file when it cannot be
    read whole."""
    image = _open_image(path, None)
    try:
        spec = image.spec()
        pixels = image.read_image("float")
        error = oiio.geterror() if pixels is None else ""
    finally:
        image.close()
    if pixels is None:
        raise DataError(f"{path}: cannot read image: {first_line(error)}")
    data_window, display_window = _windows(spec, path, None)
    return np.ascontiguousarray(pixels, dtype=np.float32), data_window, display_window


def reads_whole(path: str) -> bool:
    """Whether the image file at ``path`` opens and all its pixels decode (a truncated or
    half-written file does not)."""
    try:
        image = _open_image(path, None)
    except VfxkeyError:
        return False
    try:
        whole = image.read_image() is not None and not image.has_error  # a cut-short PNG: pixels, and an error
    finally:
        image.close()
    if not whole:
        oiio.geterror()  # clear it
    return whole


def limit_image_threads(count: int) -> None:
    """Bound OpenImageIO's thread pool (decoding and encoding image files) to ``count`` threads."""
    oiio.attribute("threads", count)


def _bit_depth(spec: oiio.ImageSpec) -> str:
    bits = spec.get_int_attribute("oiio:BitsPerSample", 0)
    base = str(spec.format)
    if base.startswith("uint") and bits and bits != spec.format.size() * 8:
        return f"uint{bits}"
    return base


def _windows(spec: oiio.ImageSpec, path: str, frame: int | None) -> tuple[Window, Window]:
    """``(data window, display window)`` of an image (OIIO's ``x, y, width, height`` and
    ``full_*``); a window larger than vfxkey takes is refused naming the file and frame."""
    data = Window(spec.x, spec.y, spec.width, spec.height).check_size(where(path, frame), "data window")
    display = Window(spec.full_x, spec.full_y, spec.full_width, spec.full_height)
    return data, display.check_size(where(path, frame), "display window")


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
    colour: tuple[int | None, int | None, int | None]  # R, G, B (None: absent, read as 0); grey's one channel three times
    alpha: int | None
    spec: oiio.ImageSpec
    skipped: tuple[str, ...]  # the parts before it, without colour: 'name [channels]'

    @property
    def count(self) -> int:
        """Channels vfxkey reads: 1 (grey) or 3 colour (absent ones as 0), plus alpha."""
        return (1 if len(set(self.colour)) == 1 and None not in self.colour else 3) + (self.alpha is not None)

    @property
    def layout(self) -> str:
        """What the channels hold, for comparing the frames of a sequence: ``"RGB and alpha"``, ``"grey"``..."""
        return ("RGB" if self.count >= 3 else "grey") + (" and alpha" if self.alpha is not None else "")

    @property
    def present(self) -> list[int]:
        """The indices of the colour and alpha channels the file holds (in channel order)."""
        return sorted({c for c in (*self.colour, self.alpha) if c is not None})

    def describe(self, most: int = 8) -> str:
        """The channels read, their part when the file has several, and what else the part holds."""
        names = list(self.spec.channelnames)
        used = self.present
        text = ", ".join(names[i] for i in used)
        absent = [name for name, index in zip("RGB", self.colour) if index is None]
        if absent:
            text += f" ({', '.join(absent)} absent: read as 0)"
        if self.part or self.skipped:
            text += f' of part {self.part + 1} "{self.spec.get_string_attribute("name", "")}"; skipped: ' + "; ".join(self.skipped)
        others = [name for i, name in enumerate(names) if i not in used]
        if others:
            text += "; also in it: " + ", ".join(others[:most]) + (f" and {len(others) - most} more" if len(others) > most else "")
        return text


def _colour_of(names: list[str]) -> tuple[tuple[int | None, int | None, int | None] | None, bool]:
    """(R, G, B indices, complete) of a part's channel names: all of R, G, B, or grey Y
    (complete); some of R, G, B, the others absent (as Nuke reads them: 0); or (None, False)."""
    if {"R", "G", "B"} <= set(names):
        return tuple(names.index(c) for c in "RGB"), True
    if "Y" in names:
        return (names.index("Y"),) * 3, True
    if {"R", "G", "B"} & set(names):
        return tuple(names.index(c) if c in names else None for c in "RGB"), False
    return None, False


def _channels(image: oiio.ImageInput, path: str, frame: int | None) -> _Channels:
    """Step 4's channels, by name, in the first part of ``image`` with complete colour (R, G
    and B, or grey ``Y``: OIIO's name for a grey PNG, TIFF or DPX channel), else the first
    with some of R, G, B (the absent ones read as 0, as Nuke does: an EXR of one channel
    named ``G``). Alpha is ``A`` (or what OIIO marks as alpha, or the 4th of four channels
    R, G, B, ?). Leaves ``image`` at that part."""
    parts, part, names, partial = [], 0, [], None
    while image.seek_subimage(part, 0):
        spec = image.spec()
        names = list(spec.channelnames)
        colour, complete = _colour_of(names)
        if not complete:
            if colour is not None and partial is None:
                partial = (part, colour, tuple(parts))
            parts.append(f"{spec.get_string_attribute('name', f'part {part}')} [{', '.join(names)}]")
            part += 1
            continue
        return _with_alpha(part, colour, spec, tuple(parts))
    if partial is not None:
        image.seek_subimage(partial[0], 0)
        return _with_alpha(partial[0], partial[1], image.spec(), partial[2])
    if len(parts) == 1:
        raise DataError(f"{where(path, frame)}: no colour channels (R, G, B or Y) among its channels {', '.join(names)}")
    raise DataError(f"{where(path, frame)}: no colour channels (R, G, B or Y) in any part: {'; '.join(parts)}")


def _with_alpha(part: int, colour: tuple, spec: oiio.ImageSpec, skipped: tuple[str, ...]) -> _Channels:
    """The part's channels with its alpha found by name (``A``), OIIO's mark, or position."""
    names = list(spec.channelnames)
    alpha = names.index("A") if "A" in names else spec.alpha_channel if spec.alpha_channel >= 0 else None
    if alpha is None and spec.nchannels == 4 and colour == (0, 1, 2):
        alpha = 3
    return _Channels(part, colour, alpha, spec, skipped)


class ImageSource(Source):
    """Stills, sequences and folders of stills, read through OpenImageIO."""

    def __init__(self, path: str, kind: str, files: dict[int, str], asked: list[int], *,
                 input_colorspace: str | None, **options):
        super().__init__(**options)
        self._files = files
        self._available = sorted(files)
        missing = check_missing(path, asked, self._available, self.missing_policy)
        first = next(f for f in asked if f in files)
        image = _open_image(files[first], first)
        try:
            channels = _channels(image, files[first], first)
        finally:
            image.close()
        spec = channels.spec
        colorspace = input_colorspace or _image_colorspace(spec, self.working_space)
        data_window, display_window = _windows(spec, files[first], first)
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
                        frame_channels = _channels(image, files[number], number)
                    finally:
                        image.close()
                    frame_data_window, frame_display_window = _windows(frame_channels.spec, files[number], number)
                    self._check_display_window(files[number], number, frame_display_window)
                    if frame_channels.layout != channels.layout:
                        raise DataError(f"{where(files[number], number)}: holds {frame_channels.layout}, the "
                                          f"sequence's first frame {channels.layout} ({files[first]})")
                    if frame_data_window != self.info.data_window:
                        self.info.data_window = self.info.data_window.union(frame_data_window)
                        self.info.data_window_varies = True

    def _file(self, frame: int) -> str:
        return self._files[frame]

    def _check_display_window(self, path: str, frame: int, display_window: Window) -> None:
        """Step 3: every frame of a sequence has the first frame's display window (the format)."""
        if self.info.kind == "sequence" and display_window != self.info.display_window:
            raise DataError(
                f"{where(path, frame)}: display window {display_window} differs from the "
                f"sequence's {self.info.display_window}"
            )

    def _decode(self, frame: int) -> Frame:
        path = self._files[frame]
        image = _open_image(path, frame, pixels=True)
        try:
            channels = _channels(image, path, frame)
            spec = channels.spec
            data_window, display_window = _windows(spec, path, frame)
            self._check_display_window(path, frame, display_window)
            # 8/16-bit files stay integer until OCIO converts them (a per-code-value table).
            data_type = str(spec.format) if str(spec.format) in INTEGER_TYPES else "float"
            used = channels.present
            begin, end = min(used), max(used) + 1  # only the span holding them (not every layer)
            pixels = image.read_image(channels.part, 0, begin, end, data_type)
            if pixels is None or image.has_error:
                raise DataError(f"{where(path, frame)}: cannot read pixels: {first_line(image.geterror())}")
        finally:
            image.close()

        pixels = pixels.reshape(spec.height, spec.width, end - begin)
        if data_type == "float":
            self._check_finite(frame, path, pixels)
        # Step 4: colour (grey -> RGB) and alpha aside, by name.
        if channels.colour == (begin, begin + 1, begin + 2):
            rgb = pixels[..., :3]  # R, G, B in the file's order: a view, no copy
        else:
            zero = np.zeros(pixels.shape[:2], pixels.dtype)  # an absent R, G or B reads as 0
            rgb = np.stack([zero if c is None else pixels[..., c - begin] for c in channels.colour], axis=-1)
        alpha = unit_float(pixels[..., channels.alpha - begin]) if channels.alpha is not None else None
        # OIIO leaves straight alpha straight when asked (and says so); EXR is premultiplied.
        premultiplied = alpha is not None and not spec.get_int_attribute("oiio:UnassociatedAlpha", 0)
        return self._finish(frame, path, rgb, alpha, premultiplied, data_window, display_window)


def _image_fps(spec: oiio.ImageSpec) -> Fraction | None:
    fps = spec.getattribute("FramesPerSecond")
    return Fraction(*fps) if isinstance(fps, tuple) and len(fps) == 2 and fps[1] else None
