"""Colour conversion through OpenColorIO with one pinned built-in config.

vfxkey works in scene-linear light in a *working space* (``Linear Rec.709 (sRGB)`` by
default, or ``ACEScg``). Files are linearised into it on read and encoded out of it on
write; only this module talks to OCIO. The config is a versioned built-in one, so no
config file is needed and results do not change with the OCIO version
(``ocio://default`` would).

Only colour channels are converted: callers pass ``(..., 3)`` RGB and keep alpha aside
(OCIO's CPU processors may nudge a fourth channel, e.g. alpha 1.0 -> 1.0000116).
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

from vfxkey.errors import VfxkeyError

# The ACES studio config: the cg-config names plus camera spaces such as ``Camera Rec.709``.
CONFIG_URI = "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4"

WORKING_SPACE = "Linear Rec.709 (sRGB)"
# Default input spaces by kind of file (see ``read.py``).
DISPLAY_SPACE = "sRGB Encoded Rec.709 (sRGB)"  # 8/16-bit stills: PNG, JPEG, TIFF, DPX
VIDEO_SPACE = "Camera Rec.709"  # movies (BT.709 transfer); the ProRes writer uses it too

# Names other tools write into files (e.g. OIIO's ``oiio:ColorSpace``) that the config
# does not know as aliases. The config's own aliases (``lin_rec709_scene``, ``lin_srgb``,
# ``srgb_rec709_scene``, ``lin_ap1`` ...) are resolved by OCIO itself.
_EXTRA_ALIASES = {
    "linear": WORKING_SPACE,
    "srgb": DISPLAY_SPACE,
    "rec709": VIDEO_SPACE,
}


@lru_cache(maxsize=1)
def config() -> ocio.Config:
    """The pinned OCIO config (loaded once per process)."""
    return ocio.Config.CreateFromFile(CONFIG_URI)


def resolve_colorspace(name: str) -> str | None:
    """The config's canonical name for ``name`` (a name, alias or known tag), or None."""
    name = _EXTRA_ALIASES.get(name.strip().lower(), name.strip())
    colorspace = config().getColorSpace(name)
    return None if colorspace is None else colorspace.getName()


def check_colorspace(name: str) -> str:
    """Return the canonical colour space name, or raise :class:`VfxkeyError` naming close matches."""
    canonical = resolve_colorspace(name)
    if canonical is not None:
        return canonical
    names = [cs.getName() for cs in config().getColorSpaces()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    close += [n for n in names if name.lower() in n.lower() and n not in close][: 3 - len(close)]
    hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
    raise VfxkeyError(f"unknown colour space {name!r}{hint} (names from {CONFIG_URI})")


def check_working_space(name: str) -> str:
    """The canonical name of ``name`` if it is a scene-linear colour space (OCIO encoding
    ``scene-linear``: ACEScg, Linear Rec.709 ...), the only kind vfxkey keys, comps and writes
    EXRs in; else :class:`VfxkeyError`."""
    canonical = check_colorspace(name)
    encoding = config().getColorSpace(canonical).getEncoding()
    if encoding != "scene-linear":
        raise VfxkeyError(f"{canonical!r} is not scene-linear (its encoding is {encoding or 'not given'}); "
                          f"the working space must be, e.g. {WORKING_SPACE!r} or 'ACEScg'")
    return canonical


# OCIO bit depths of the integer code values convert() takes, with their full-scale value.
_INTEGER_DEPTHS = {np.dtype(np.uint8): (ocio.BIT_DEPTH_UINT8, 255), np.dtype(np.uint16): (ocio.BIT_DEPTH_UINT16, 65535)}


@lru_cache(maxsize=32)
def _processor(src: str, dst: str, in_depth: ocio.BitDepth = ocio.BIT_DEPTH_F32) -> ocio.CPUProcessor:
    """A cached CPU processor from ``src`` to ``dst`` (canonical names) giving float32.

    Float input gets the lossless processor (exact curves). 8/16-bit input gets OCIO's
    default optimisation, which evaluates the transform once per code value (a lookup
    table): as exact as the lossless float path to float32 rounding, and 8x faster.
    """
    processor = config().getProcessor(src, dst)
    if in_depth == ocio.BIT_DEPTH_F32:
        return processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
    return processor.getOptimizedCPUProcessor(in_depth, ocio.BIT_DEPTH_F32, ocio.OPTIMIZATION_DEFAULT)


def convert(rgb: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert colour from ``src`` to ``dst``.

    Args:
        rgb: ``(..., 3)`` colour in ``src`` (straight colour for non-linear spaces): float,
            or uint8/uint16 code values as a file stores them (full scale means 1.0).
        src, dst: colour space names or aliases from :data:`CONFIG_URI`.

    Returns:
        A new ``(..., 3)`` float32 array in ``dst``; the input is not modified.
    """
    src, dst = check_colorspace(src), check_colorspace(dst)
    if rgb.shape[-1] != 3:
        raise ValueError(f"convert() takes (..., 3) RGB, got shape {rgb.shape}")
    if rgb.dtype in _INTEGER_DEPTHS:
        return _convert_codes(np.ascontiguousarray(rgb), src, dst)
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    if src != dst and out.size:
        _processor(src, dst).applyRGB(out)
    return out


def unit_float(samples: np.ndarray) -> np.ndarray:
    """float32 samples as they are, or uint8/uint16 code values scaled so full scale is 1.0.

    No colour conversion: for data such as alpha, or colour already in the wanted space."""
    if samples.dtype not in _INTEGER_DEPTHS:
        return np.asarray(samples, dtype=np.float32)
    return samples.astype(np.float32) / np.float32(_INTEGER_DEPTHS[samples.dtype][1])


def display_8bit(rgb: np.ndarray, src: str = WORKING_SPACE) -> np.ndarray:
    """(..., 3) float colour in ``src`` -> uint8 sRGB code values (DISPLAY_SPACE), for a
    person to look at: clipped to the display's 0..1 and rounded to the nearest code."""
    return np.round(np.clip(convert(rgb, src, DISPLAY_SPACE), 0.0, 1.0) * 255.0).astype(np.uint8)


def _convert_codes(codes: np.ndarray, src: str, dst: str) -> np.ndarray:
    """``convert`` for contiguous uint8/uint16 code values: float32 out of OCIO directly."""
    depth = _INTEGER_DEPTHS[codes.dtype][0]
    if src == dst or not codes.size:
        return unit_float(codes)
    out = np.empty(codes.shape, np.float32)
    pixels = codes.size // 3
    _processor(src, dst, depth).apply(
        ocio.PackedImageDesc(codes, pixels, 1, 3, depth, codes.itemsize, 3 * codes.itemsize, 3 * pixels * codes.itemsize),
        ocio.PackedImageDesc(out, pixels, 1, 3, ocio.BIT_DEPTH_F32, 4, 12, 12 * pixels),
    )
    return out


def unknown_colorspaces(config_path: str, names: list[str]) -> list[str]:
    """Those of ``names`` that the OCIO config at ``config_path`` (a file or an ``ocio://``
    URI) does not know, as names or aliases; :class:`VfxkeyError` if it cannot be loaded."""
    try:
        other = ocio.Config.CreateFromFile(config_path)
    except ocio.Exception as exc:
        raise VfxkeyError(f"{config_path}: cannot load the OCIO config: {str(exc).splitlines()[0]}") from None
    return [name for name in names if other.getColorSpace(name) is None]
