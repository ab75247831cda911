"""Colour conversion through OpenColorIO: the show's config, or one pinned built-in config.

vfxkey works in scene-linear light in a *working space* (``Linear Rec.709 (sRGB)`` by
default, or ``ACEScg``). Files are linearised into it on read and encoded out of it on
write; only this module talks to OCIO.

The processing config is, first found: the spec's ``[shot] ocio_config``, the command
line's (``vfxkey --ocio CONFIG``), ``$OCIO``, else the pinned built-in :data:`CONFIG_URI`
(versioned, so results do not change with the OCIO version as ``ocio://default`` would).
:func:`use_config` sets it for the process, :func:`config_in_use` while a shot is read or
processed; :func:`config_identity` (its name and a hash of its text) goes into the
metadata and the settings hash. vfxkey's own names (the defaults below) are looked up in a
show's config by name, then through their aliases in the built-in config (``Utility -
Linear - sRGB`` in ``aces_1.2``), so a show config that names the same spaces differently
still works.

Only colour channels are converted: callers pass ``(..., 3)`` RGB and keep alpha aside
(OCIO's CPU processors may nudge a fourth channel, e.g. alpha 1.0 -> 1.0000116).
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

from vfxkey.errors import VfxkeyError

# The ACES studio config: the cg-config names plus camera spaces such as ``Camera Rec.709``.
CONFIG_URI = "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4"

WORKING_SPACE = "Linear Rec.709 (sRGB)"
# Default input spaces by kind of file (see ``read.py``).
DISPLAY_SPACE = "sRGB Encoded Rec.709 (sRGB)"  # 8/16-bit stills: PNG, JPEG, TIFF, DPX
VIDEO_SPACE = "Camera Rec.709"  # movies (BT.709 transfer); interchange movies are written in it
# Review media (the shot's comp movie, the PNG previews, the QC page's pictures) are shown
# through one display and view of the config, so a movie and a preview show the same
# levels: an sRGB monitor, without tone mapping (scene-linear Rec.709 primaries, the sRGB
# curve, values above 1 clipped).
REVIEW_DISPLAY = "sRGB - Display"
REVIEW_VIEW = "Un-tone-mapped"

# Names other tools write into files (e.g. OIIO's ``oiio:ColorSpace``) that the config
# does not know as aliases. The config's own aliases (``lin_rec709_scene``, ``lin_srgb``,
# ``srgb_rec709_scene``, ``lin_ap1`` ...) are resolved by OCIO itself.
_EXTRA_ALIASES = {
    "linear": WORKING_SPACE,
    "srgb": DISPLAY_SPACE,
    "rec709": VIDEO_SPACE,
}


_chosen: str | None = None  # use_config()'s choice; None: $OCIO, else CONFIG_URI


def config_source() -> str:
    """The processing config: :func:`use_config`'s choice, else ``$OCIO``, else :data:`CONFIG_URI`."""
    return _chosen or os.environ.get("OCIO") or CONFIG_URI


def use_config(source: str | None) -> str:
    """Process with the OCIO config ``source`` (a config file or an ``ocio://`` URI; None:
    back to ``$OCIO`` / the built-in); return the source now used. :class:`VfxkeyError` if
    it cannot be loaded."""
    global _chosen
    _load(source or os.environ.get("OCIO") or CONFIG_URI)
    _chosen = source
    _processor.cache_clear()
    _review_processor.cache_clear()
    return config_source()


def check_config(source: str) -> str:
    """``source`` when it is an OCIO config that loads (a file or an ``ocio://`` URI);
    :class:`VfxkeyError` otherwise. Nothing is put in use."""
    _load(source)
    return source


@contextmanager
def config_in_use(source: str | None) -> Iterator[str]:
    """Process with the OCIO config ``source`` while the context lasts, then with the one
    chosen before (:func:`use_config`); None, or the config already chosen, changes nothing.
    Yields the source in use. A shot's ``[shot] ocio_config`` is used so, by what reads or
    processes the shot, never left behind for the next shot."""
    global _chosen
    before = _chosen
    if source is None or source == before:
        yield config_source()
        return
    use_config(source)
    try:
        yield source
    finally:
        _chosen = before
        _processor.cache_clear()
        _review_processor.cache_clear()


@lru_cache(maxsize=4)
def _load(source: str) -> ocio.Config:
    try:
        return ocio.Config.CreateFromFile(source)
    except (ocio.Exception, ocio.ExceptionMissingFile) as exc:
        raise VfxkeyError(f"{source}: cannot load the OCIO config: {str(exc).splitlines()[0]}") from None


def config() -> ocio.Config:
    """The processing OCIO config (each one loaded once per process)."""
    return _load(config_source())


def config_identity() -> dict[str, str]:
    """``{"ocio_config": name, "ocio_config_hash": 16 hex digits}``: the processing config's
    name (else its path) and a sha256 of its serialised text (LUT files it names not included)."""
    current = config()
    text = current.serialize()
    return {"ocio_config": current.getName() or config_source(),
            "ocio_config_hash": hashlib.sha256(text.encode()).hexdigest()[:16]}


def carry_over(name: str, source: ocio.Config, target: ocio.Config) -> str | None:
    """``name`` (a colour space, alias or role of ``source``) as ``target``'s colour space
    name: ``name`` itself if ``target`` knows it as a name or alias, else the first of the
    ``source`` space's name and aliases that ``target`` knows; None if none is. Roles are
    resolved in ``source``: the same role may name another space in ``target``."""
    candidates = [name]
    space = source.getColorSpace(name)
    if space is not None:
        candidates += [space.getName(), *space.getAliases()]
    for candidate in candidates:
        found = target.getColorSpace(candidate)
        if found is not None and not target.hasRole(candidate):
            return found.getName()
    return None


def resolve_colorspace(name: str) -> str | None:
    """The config's canonical name for ``name`` (a name, alias, role or known tag; in a show
    config also a built-in name through its aliases), or None."""
    name = _EXTRA_ALIASES.get(name.strip().lower(), name.strip())
    colorspace = config().getColorSpace(name)
    if colorspace is not None:
        return colorspace.getName()
    return None if config_source() == CONFIG_URI else carry_over(name, _load(CONFIG_URI), config())


# EXR ``chromaticities`` (red, green, blue, white CIE xy) of the scene-linear spaces vfxkey
# works in, by built-in name: Rec.709 / sRGB (ITU-R BT.709), P3-D65 (SMPTE EG 432-1),
# Rec.2020 (ITU-R BT.2020), ACES AP1 (ACEScg, Academy S-2014-004) and AP0 (SMPTE ST 2065-1).
_D65, _ACES_WHITE = (0.3127, 0.3290), (0.32168, 0.33767)
_CHROMATICITIES = {
    "Linear Rec.709 (sRGB)": ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06), _D65),
    "Linear P3-D65": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), _D65),
    "Linear Rec.2020": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), _D65),
    "ACEScg": ((0.713, 0.293), (0.165, 0.830), (0.128, 0.044), _ACES_WHITE),
    "ACES2065-1": ((0.7347, 0.2653), (0.0, 1.0), (0.0001, -0.0770), _ACES_WHITE),
}


def chromaticities(space: str) -> tuple[float, ...] | None:
    """The 8 floats of an EXR ``chromaticities`` attribute for linear ``space`` (any name the
    processing config resolves to one of the spaces above), or None for another space."""
    canonical = resolve_colorspace(space)
    if canonical is None:
        return None
    builtin = carry_over(canonical, config(), _load(CONFIG_URI))
    xy = _CHROMATICITIES.get(builtin or "")
    return None if xy is None else tuple(v for pair in xy for v in pair)


def check_colorspace(name: str) -> str:
    """Return the canonical colour space name, or raise :class:`VfxkeyError` naming close matches."""
    canonical = resolve_colorspace(name)
    if canonical is not None:
        return canonical
    names = [cs.getName() for cs in config().getColorSpaces()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    close += [n for n in names if name.lower() in n.lower() and n not in close][: 3 - len(close)]
    hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
    raise VfxkeyError(f"unknown colour space {name!r}{hint} (names from {config_source()})")


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
        src, dst: colour space names or aliases of the processing config.

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


def quick_to_convert(dtype: np.dtype, src: str, dst: str) -> bool:
    """Whether :func:`convert` of code values of ``dtype`` from ``src`` to ``dst`` is a
    lookup in a table of 256 (8-bit codes, no matrix mixing the channels) or a scaling:
    cheap enough to do again rather than keep the float32 result (four times the memory)."""
    return _by_table(np.dtype(dtype), check_colorspace(src), check_colorspace(dst))


def _by_table(dtype: np.dtype, src: str, dst: str) -> bool:
    """Whether code values of ``dtype`` convert from ``src`` to ``dst`` (canonical names) by
    a table of 256 (:func:`_convert_codes`): 8-bit codes, no matrix mixing the channels."""
    return dtype == np.uint8 and (src == dst or not _processor(src, dst, ocio.BIT_DEPTH_UINT8).hasChannelCrosstalk())


def unit_float(samples: np.ndarray) -> np.ndarray:
    """float32 samples as they are, or uint8/uint16 code values scaled so full scale is 1.0.

    No colour conversion: for data such as alpha, or colour already in the wanted space."""
    if samples.dtype not in _INTEGER_DEPTHS:
        return np.asarray(samples, dtype=np.float32)
    return samples.astype(np.float32) / np.float32(_INTEGER_DEPTHS[samples.dtype][1])


def review_display_view() -> tuple[str, str]:
    """The display and view review media are shown through: :data:`REVIEW_DISPLAY` /
    :data:`REVIEW_VIEW` when the processing config has them, else its default display and
    that display's default view (a show config's own)."""
    current = config()
    if REVIEW_DISPLAY in current.getDisplays() and REVIEW_VIEW in current.getViews(REVIEW_DISPLAY):
        return REVIEW_DISPLAY, REVIEW_VIEW
    display = current.getDefaultDisplay()
    return display, current.getDefaultView(display)


@lru_cache(maxsize=8)
def _review_processor(src: str) -> ocio.CPUProcessor:
    """A cached CPU processor from ``src`` (canonical) through the review display and view."""
    display, view = review_display_view()
    transform = ocio.DisplayViewTransform(src=src, display=display, view=view)
    return config().getProcessor(transform).getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)


def to_review(rgb: np.ndarray, src: str = WORKING_SPACE) -> np.ndarray:
    """(..., 3) float colour in ``src`` -> float display code values in 0..1 through the
    review display and view (:func:`review_display_view`), clipped."""
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    if out.size:
        _review_processor(check_colorspace(src)).applyRGB(out)
    return np.clip(out, 0.0, 1.0)


def display_8bit(rgb: np.ndarray, src: str = WORKING_SPACE) -> np.ndarray:
    """(..., 3) float colour in ``src`` -> uint8 code values for a person to look at,
    through the review display and view (:func:`to_review`), rounded to the nearest code."""
    return np.round(to_review(rgb, src) * 255.0).astype(np.uint8)


def _convert_codes(codes: np.ndarray, src: str, dst: str) -> np.ndarray:
    """``convert`` for contiguous uint8/uint16 code values: float32 out of OCIO directly.

    When each channel's result depends on that channel's code alone (no matrix between
    the curves: an sRGB file into linear Rec.709), 8-bit codes are looked up in OCIO's own
    results for the 256 codes (``cv2.LUT``): the same bits, ten times faster than OCIO's
    8-bit path (7 against 70 ms a 1080p frame)."""
    if src == dst or not codes.size:
        return unit_float(codes)
    processor = _processor(src, dst, _INTEGER_DEPTHS[codes.dtype][0])
    if _by_table(codes.dtype, src, dst):
        import cv2

        table = _apply_codes(processor, np.repeat(np.arange(256, dtype=np.uint8), 3))  # (256, 3): code -> value
        return cv2.LUT(codes.reshape(-1, 1, 3), table.reshape(1, 256, 3)).reshape(codes.shape)
    return _apply_codes(processor, codes).reshape(codes.shape)


def _apply_codes(processor: ocio.CPUProcessor, codes: np.ndarray) -> np.ndarray:
    """(..., 3) contiguous uint8/uint16 ``codes`` through ``processor`` (made for their depth): (N, 3) float32."""
    depth = _INTEGER_DEPTHS[codes.dtype][0]
    pixels = codes.size // 3
    out = np.empty((pixels, 3), np.float32)
    processor.apply(
        ocio.PackedImageDesc(codes, pixels, 1, 3, depth, codes.itemsize, 3 * codes.itemsize, 3 * pixels * codes.itemsize),
        ocio.PackedImageDesc(out, pixels, 1, 3, ocio.BIT_DEPTH_F32, 4, 12, 12 * pixels),
    )
    return out
