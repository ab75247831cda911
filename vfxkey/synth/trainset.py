"""The matting head's training set: foregrounds composited over generated-style green screens.

DiffuMatting's Green100K (REFERENCE §1.2) composites real matting datasets onto green with
their ground-truth alpha. :func:`make_trainset` follows that recipe with the screens image
models actually paint (:mod:`vfxkey.synth.screens`: uneven light, vignette, fabric
texture, hue drift, spill near the edges, noise, greens like sRGB (8, 162, 24)).

Layout of a training set folder (written by :func:`make_trainset`, read by
:class:`MattePairs`)::

    DIR/images/NAME.png   8-bit sRGB RGB composite
    DIR/masks/NAME.png    8-bit single-channel mask (the foreground's alpha, 255 = opaque)

``NAME`` is ``{index:06d}_{foreground stem}``. Sample ``index`` depends only on the seed,
the index and the inputs, so a set made with ``--count 100`` starts with the same 10 pairs
as one made with ``--count 10``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vfxkey.errors import InputError, SettingError, VfxkeyError
from vfxkey.io.colour import DISPLAY_SPACE, WORKING_SPACE, convert
from vfxkey.io.files import atomic_output
from vfxkey.io.frame import STILL_EXTENSIONS
from vfxkey.io.read import open_source
from vfxkey.io.write import write_preview_png
from vfxkey.synth.screens import SCREEN_GREENS_SRGB8, ScreenLook, composite_over_screen, make_screen

IMAGES, MASKS = "images", "masks"


@dataclass
class Foreground:
    """One input element: straight scene-linear colour (working space) and its alpha."""

    name: str
    rgb: np.ndarray  # (H, W, 3) float32, straight
    alpha: np.ndarray  # (H, W) float32 in 0..1


def read_foregrounds(fg_dir: str | os.PathLike, alpha_dir: str | os.PathLike | None = None) -> list[Foreground]:
    """Read the foregrounds of ``fg_dir`` (sorted by name), linearised to the working space.

    Without ``alpha_dir`` each image must carry its own alpha (e.g. RGBA PNG, straight).
    With it, each foreground's alpha is the image with the same stem in ``alpha_dir``:
    grey, or RGB with equal channels (the first is read), read as data (no colour
    conversion).

    Raises:
        VfxkeyError: a folder is missing or empty, an alpha is missing or of another size.
    """
    fg_files = _images_in(fg_dir, "fg")
    alphas = None if alpha_dir is None else {p.stem: p for p in _images_in(alpha_dir, "alpha")}
    foregrounds = []
    for path in fg_files:
        frame = open_source(path).read(1)
        straight = frame.straight_rgba()
        if alphas is None:
            if frame.alpha is None:
                raise InputError("has no alpha channel; give its mattes as a folder (alpha)", path=path)
            alpha = straight[..., 3]
        else:
            if path.stem not in alphas:
                raise VfxkeyError(f"{path}: no alpha named {path.stem}.* in {alpha_dir}")
            alpha = open_source(alphas[path.stem], input_colorspace="Raw").read(1).rgb[..., 0]
            if alpha.shape != straight.shape[:2]:
                raise VfxkeyError(
                    f"{alphas[path.stem]}: alpha is {alpha.shape[1]}x{alpha.shape[0]} but "
                    f"{path.name} is {straight.shape[1]}x{straight.shape[0]}"
                )
        foregrounds.append(Foreground(path.stem, straight[..., :3], np.clip(alpha, 0.0, 1.0)))
    return foregrounds


def make_sample(
    fg: Foreground, rng: np.random.Generator, size: tuple[int, int] | None = None, look: ScreenLook | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One Green100K-style composite: ``(image, mask)``, image ``(H, W, 3)`` linear float32.

    1. Place: with ``size = (width, height)`` the element is scaled to 50-100 % of the
       largest size that fits, flipped left-right half the time and put at a random
       position (resampled premultiplied, so no dark fringes); with ``size=None`` it keeps
       its own size and place, so the mask is exactly its alpha.
    2. Screen: one of the screen greens, brightness x0.7..1.3, with ``look`` (default a
       random :class:`~vfxkey.synth.screens.ScreenLook`; ``ScreenLook()`` is a flat screen).
    3. Composite straight colour over the screen with the look's spill and noise.
    """
    # 1. place the element
    rgb, alpha = fg.rgb, fg.alpha
    if size is not None:
        rgb, alpha = _place(rgb, alpha, size, rng)
    height, width = alpha.shape

    # 2. the screen
    green = np.array(SCREEN_GREENS_SRGB8[rng.integers(len(SCREEN_GREENS_SRGB8))], np.float32) / 255.0
    colour = convert(green, DISPLAY_SPACE, WORKING_SPACE) * rng.uniform(0.7, 1.3)
    look = ScreenLook.draw(rng) if look is None else look
    screen = make_screen(
        height, width, colour, rng,
        gradient=look.gradient, vignette=look.vignette, texture=look.texture, hue_drift=look.hue_drift,
    )

    # 3. composite
    image = composite_over_screen(rgb, alpha, screen, rng, spill=look.spill, noise=look.noise)
    return image, alpha


def make_trainset(
    foregrounds: list[Foreground],
    out_dir: str | os.PathLike,
    count: int,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
) -> list[str]:
    """Write ``count`` image/mask pairs to ``out_dir`` in the documented layout; returns the names.

    Foregrounds are used in turn (sample ``i`` uses ``foregrounds[i % len]``); sample ``i``
    draws from ``numpy.random.default_rng([seed, i])``. Images are written as 8-bit sRGB
    (from the linear working space, via OCIO), masks as 8-bit single-channel PNG; every
    file is written atomically.
    """
    if not foregrounds:
        raise VfxkeyError("no foregrounds to composite")
    out_dir = Path(out_dir)
    names = []
    for index in (progress or iter)(range(count)):
        fg = foregrounds[index % len(foregrounds)]
        image, mask = make_sample(fg, np.random.default_rng([seed, index]), size)
        name = f"{index:06d}_{fg.name}"
        write_preview_png(out_dir / IMAGES / f"{name}.png", image)
        _write_mask(out_dir / MASKS / f"{name}.png", mask)
        names.append(name)
    return names


class MattePairs:
    """The image/mask pairs of a training set folder, as the head's trainer reads them.

    ``pairs[i]`` is ``(image, mask)``: ``(H, W, 3)`` float32 sRGB-*encoded* in 0..1 (the
    VAE's own input space, so no linearisation) and ``(H, W)`` float32 in 0..1, resized to
    ``size = (width, height)`` when given (area-averaged).

    Raises:
        VfxkeyError: the folder lacks ``images/`` or ``masks/``, holds no images, or an
            image has no mask.
    """

    def __init__(self, folder: str | os.PathLike, size: tuple[int, int] | None = None):
        folder = Path(folder)
        for sub in (IMAGES, MASKS):
            if not (folder / sub).is_dir():
                raise VfxkeyError(
                    f"{folder}: not a training set (no {sub}/ folder; make one with `vfxkey make-trainset`)"
                )
        self.images = sorted((folder / IMAGES).glob("*.png"))
        if not self.images:
            raise VfxkeyError(f"{folder / IMAGES}: holds no .png images")
        self.masks = [folder / MASKS / p.name for p in self.images]
        for image, mask in zip(self.images, self.masks, strict=True):
            if not mask.is_file():
                raise VfxkeyError(f"{image}: has no mask {mask}")
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image = _read_png(self.images[index], cv2.IMREAD_COLOR)[..., ::-1]  # BGR -> RGB
        mask = _read_png(self.masks[index], cv2.IMREAD_GRAYSCALE)
        if image.shape[:2] != mask.shape:
            raise VfxkeyError(f"{self.masks[index]}: mask size differs from its image's")
        if self.size is not None:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, self.size, interpolation=cv2.INTER_AREA)
        return image.astype(np.float32) / 255.0, mask.astype(np.float32) / 255.0


def _images_in(folder: str | os.PathLike, setting: str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise SettingError(f"{folder}: the folder does not exist", setting=setting)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in STILL_EXTENSIONS)
    if not files:
        raise SettingError(f"{folder}: the folder holds no images ({', '.join(STILL_EXTENSIONS)})", setting=setting)
    return files


def _place(
    rgb: np.ndarray, alpha: np.ndarray, size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Scale, flip and position a straight-alpha element on a ``size = (width, height)`` canvas."""
    width, height = size
    fit = min(width / alpha.shape[1], height / alpha.shape[0])
    scale = fit * rng.uniform(0.5, 1.0)
    new_w, new_h = max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    premultiplied = np.dstack([rgb * alpha[..., None], alpha]).astype(np.float32)
    premultiplied = cv2.resize(premultiplied, (new_w, new_h), interpolation=interpolation)
    if rng.random() < 0.5:
        premultiplied = premultiplied[:, ::-1]
    x, y = rng.integers(0, width - new_w + 1), rng.integers(0, height - new_h + 1)
    canvas = np.zeros((height, width, 4), np.float32)
    canvas[y : y + new_h, x : x + new_w] = premultiplied
    alpha = np.clip(canvas[..., 3], 0.0, 1.0)
    rgb = canvas[..., :3] / np.maximum(alpha, 1e-6)[..., None]  # back to straight colour
    return rgb, alpha


def _write_mask(path: Path, mask: np.ndarray) -> None:
    """An 8-bit single-channel PNG of ``mask`` (0..1 data, no colour conversion)."""
    pixels = np.round(np.clip(mask, 0.0, 1.0) * 255.0).astype(np.uint8)
    with atomic_output(path) as tmp:
        if not cv2.imwrite(tmp, pixels):
            raise VfxkeyError(f"{path}: cannot write mask PNG")


def _read_png(path: Path, flags: int) -> np.ndarray:
    pixels = cv2.imread(str(path), flags)
    if pixels is None:
        raise VfxkeyError(f"{path}: cannot read image")
    return pixels
