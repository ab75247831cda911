"""``NukeComp``: everything a Nuke comp script says, as one validated value.

The script writer (``vfxkey.nuke.script``) turns a :class:`NukeComp` into ``.nk`` text and
knows nothing about shot specs; ``vfxkey.nuke.shot`` builds a :class:`NukeComp` from a
shot. Units and conventions, as Nuke uses them:

- frames are the shot's numbers (1001..); ``fps`` an exact rational (``24000/1001``);
- sizes in pixels; positions in Nuke's coordinates: origin at the **bottom-left** corner,
  x to the right, **y up**; rotation in degrees, **counter-clockwise** positive;
- colour spaces are names in the script's OCIO config ``ocio_config`` (one of Nuke's own
  ``fn-nuke_...`` configs, an ``ocio://`` built-in URI or a config file path; see
  ``vfxkey.nuke.ocio``), e.g. ``Linear Rec.709 (sRGB)``, ``ACEScg``, ``sRGB - Texture``;
- file paths are local paths or patterns (``el.####.exr``, ``el.%04d.exr``), written
  into the script through ``path_map``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from vfxkey.errors import VfxkeyError
from vfxkey.io.sequence import FrameRange
from vfxkey.nuke.paths import PathMap

# vfxkey's EXR compressions (vfxkey.io.exr_options.EXR_COMPRESSIONS) as Nuke's Write names them.
# OpenEXR's ZIP packs 16 scanlines per block, ZIPS one.
NUKE_EXR_COMPRESSION = {
    "none": "none",
    "zips": "Zip (1 scanline)",
    "zip": "Zip (16 scanlines)",
    "piz": "PIZ Wavelet (32 scanlines)",
    "rle": "RLE",
    "dwaa": "DWAA",
    "dwab": "DWAB",
}
FOOTAGE_KINDS = ("sequence", "still", "movie")


@dataclass(frozen=True)
class Format:
    """An image format: ``width`` x ``height`` pixels, ``pixel_aspect`` (1 = square)."""

    width: int
    height: int
    pixel_aspect: float = 1.0

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1 or not self.pixel_aspect > 0:
            raise VfxkeyError(f"bad format {self.width}x{self.height} pixel aspect {self.pixel_aspect}")


@dataclass(frozen=True)
class Footage:
    """What a Read node reads.

    Attributes:
        path: local file or pattern (``plate.####.exr``); a still for ``kind="still"``.
        kind: ``sequence`` (one file per frame), ``still`` (one image held over the shot)
            or ``movie`` (a movie whose first frame is shot frame ``frames.first``).
        frames: the frames the Read covers (a movie: one per movie frame).
        format: the image's size.
        colorspace: the colour space of the file's colour (an OCIO name).
        premultiplied: whether the file's colour is premultiplied by alpha (vfxkey's EXRs are).
        vfxkey: whether vfxkey wrote the files (the Read-side check wants vfxkey metadata).
    """

    path: str
    kind: str
    frames: FrameRange
    format: Format
    colorspace: str
    premultiplied: bool = False
    vfxkey: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FOOTAGE_KINDS:
            raise VfxkeyError(f"{self.path}: footage kind {self.kind!r} is not one of {', '.join(FOOTAGE_KINDS)}")
        if len(self.frames) == 0:
            raise VfxkeyError(f"{self.path}: no frames")


@dataclass(frozen=True)
class PlacementKey:
    """The element's placement on one frame, as a Nuke Transform: pixels, y up, degrees CCW."""

    frame: int
    translate: tuple[float, float] = (0.0, 0.0)
    rotate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)


@dataclass(frozen=True)
class Placement:
    """How the element sits over the plate.

    Either ``baked`` (the element files are already placed on the plate's canvas: no
    Transform) or a Transform around ``center`` (Nuke coordinates) with ``keys`` at
    keyed frames; Nuke interpolates linearly between them and holds the first and last.
    """

    keys: tuple[PlacementKey, ...] = ()
    center: tuple[float, float] = (0.0, 0.0)
    baked: bool = False

    def __post_init__(self) -> None:
        frames = [key.frame for key in self.keys]
        if frames != sorted(set(frames)):
            raise VfxkeyError(f"placement keys must be at increasing, distinct frames, got {frames}")
        if self.baked and self.keys:
            raise VfxkeyError("placement: a baked placement has no keys")
        if not self.baked and not self.keys:
            raise VfxkeyError("placement: give at least one key, or say it is baked")
        for key in self.keys:
            if 0 in key.scale:
                raise VfxkeyError(f"placement: scale 0 at frame {key.frame}")


@dataclass(frozen=True)
class NukeComp:
    """One comp script: the plate, the element placed over it, and the Writes.

    Attributes:
        shot: shot name (the backdrop's title).
        frames: the script's frame range (Root ``first_frame``/``last_frame``).
        fps: frames per second, exact.
        format: the script's format (the plate's).
        ocio_config: the OCIO config the script names: a Nuke ``OCIO_config`` choice
            (``fn-nuke_...``), else an ``ocio://`` URI or a config file (``custom``).
        nuke_version: the Nuke version the script is written for (its ``version`` line).
        working_space: the scene-linear working space (an OCIO name).
        plate, element: the two Reads; the element is premultiplied. Without a plate
            (None) the Merge's B input is left unconnected.
        plate_reformat: when set, the plate is resized (stretched) to this format before
            the merge, and it is the script's format.
        placement: the element's Transform (or baked).
        comp_write: where Nuke's comp Write renders (EXR pattern, half float, RGBA).
        compression: the comp Write's EXR compression (a key of :data:`NUKE_EXR_COMPRESSION`).
        prores_write: optional ProRes 4444 ``.mov`` the script also renders.
        prores_colorspace: the colour space the ProRes Write encodes to.
        mode: how vfxkey made the element (``key``, ``generate``, ...), for the label.
        settings: vfxkey settings shown on the backdrop, ``(name, value)`` pairs.
        version: the vfxkey version that wrote the element.
        path_map: how local paths become paths Nuke reads (see ``vfxkey.nuke.paths``).
    """

    shot: str
    frames: FrameRange
    fps: Fraction
    format: Format
    ocio_config: str
    working_space: str
    plate: Footage | None
    element: Footage
    placement: Placement
    comp_write: str
    plate_reformat: Format | None = None
    compression: str = "zip"
    prores_write: str | None = None
    prores_colorspace: str = "Camera Rec.709"
    mode: str = "key"
    settings: tuple[tuple[str, str], ...] = ()
    version: str = ""
    path_map: PathMap = field(default_factory=PathMap)
    nuke_version: int = 14

    def __post_init__(self) -> None:
        if len(self.frames) == 0:
            raise VfxkeyError(f"shot {self.shot}: empty frame range")
        if not Fraction(self.fps) > 0:
            raise VfxkeyError(f"shot {self.shot}: fps must be positive, got {self.fps}")
        if self.compression not in NUKE_EXR_COMPRESSION:
            raise VfxkeyError(
                f"shot {self.shot}: EXR compression {self.compression!r} is not one of "
                f"{', '.join(NUKE_EXR_COMPRESSION)}"
            )
        if not self.ocio_config.strip():
            raise VfxkeyError(f"shot {self.shot}: no OCIO config")
        if self.plate_reformat is not None and self.plate is None:
            raise VfxkeyError(f"shot {self.shot}: a plate reformat without a plate")
        if self.plate_reformat is not None and self.plate_reformat != self.format:
            raise VfxkeyError(f"shot {self.shot}: the plate is reformatted to {self.plate_reformat}, "
                              f"so the script's format must be that, not {self.format}")
        if self.prores_write is not None and not self.prores_write.lower().endswith(".mov"):
            raise VfxkeyError(f"{self.prores_write}: the ProRes Write needs a .mov path")
