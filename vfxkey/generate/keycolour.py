"""The key colour of generated and edited elements, and keying such a frame on it.

Generation puts the element on the key colour; editing puts a keyed element back on it
before the model sees it. Both key the result with GreenPost (:mod:`vfxkey.matte.greenpost`)
on every frame by itself: a keyer without a shot ``Screen`` measures each frame's own, so a
frame's alpha does not depend on which frames are keyed with it (chunk-invariant), on one
thread, so K-Means is bitwise repeatable (threaded sums vary in the last bits).

:func:`key_element` keys a frame made on its key colour, in three steps:

1. **key background**: a frame with (almost) no pixel of the key's chromaticity has no
   background to key: a ``ValueError``, as GreenPost raises for green and blue (for any
   other colour it would fall back to the given colour and key the subject away);
2. **key**: GreenPost on the frame; with a coarse subject mask (a matting head's or the
   attention hint) the frame is keyed with and without it and each pixel keeps the larger
   alpha, so the mask only ever adds alpha (a mask also moves the clean plate, which alone
   can lower alpha at a subject's rim);
3. **QC**: the keyer's verdicts and warnings, and its ``inverted_key`` verdict also when the
   frame's border (where the key background is) is mostly opaque and more opaque than the
   foreground region (the subject transparent, the background solid): the keyer's own test
   compares the colour it took for the screen, which a frame keyed on the wrong colour fools.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from vfxkey.generate.noise import KEY_SRGB, Ellipse, key_text
from vfxkey.io.colour import DISPLAY_SPACE, convert
from vfxkey.matte.greenpost import Keyer, KeyResult, KeySettings

# Step 1: a pixel is key background when its chromaticity (r, g, b over their sum) lies within
# KEY_CHROMA of the key's (GreenPost's own test for a given screen colour); a frame needs at
# least KEY_SHARE of them.
KEY_CHROMA = 0.15
KEY_SHARE = 0.01
# Step 3: the border ring (BORDER of the smaller side) is "mostly opaque" above INVERTED_BORDER
# mean alpha, and inverted when that is INVERTED_MARGIN above the mean alpha inside the region.
BORDER = 0.05
INVERTED_BORDER = 0.5
INVERTED_MARGIN = 0.25


@dataclass(frozen=True)
class KeyColour:
    """A key as :func:`vfxkey.generate.noise.parse_key` gives it, in the forms its users need."""

    key: str | tuple[float, float, float]   # name, or sRGB-encoded 0..1 triple
    srgb: tuple[float, float, float]        # sRGB-encoded (display-referred) 0..1
    linear: tuple[float, float, float]      # scene-linear, working space
    screen: str | tuple[float, float, float]  # KeySettings.screen: "green"/"blue" fix the channel, else linear

    @classmethod
    def of(cls, key: str | tuple[float, float, float], working_space: str) -> "KeyColour":
        srgb = tuple(float(c) for c in (KEY_SRGB[key] if isinstance(key, str) else key))
        linear = tuple(float(c) for c in convert(np.array([[srgb]], np.float32), DISPLAY_SPACE, working_space)[0, 0])
        return cls(key=key, srgb=srgb, linear=linear, screen=key if key in ("green", "blue") else linear)


def key_on_screen(rgb: np.ndarray, colour: KeyColour, hint: np.ndarray | None = None,
                  settings: KeySettings = KeySettings()) -> KeyResult:
    """Key one frame ``rgb`` (``(H, W, 3)`` scene-linear, working space) shot on ``colour``
    with the keyer ``settings`` (the shot's; their ``screen`` is the key colour's; :func:`key_element`)."""
    return key_element(Keyer(replace(settings, screen=colour.screen)), rgb, colour, hint)


def key_element(keyer: Keyer, rgb: np.ndarray, colour: KeyColour, hint: np.ndarray | None = None,
                region: Ellipse | None = None) -> KeyResult:
    """Key one frame ``rgb`` (``(H, W, 3)`` scene-linear, working space) made on ``colour``.

    ``keyer`` keys on ``colour.screen``; ``hint`` is an optional ``(H, W)`` 0..1 coarse
    subject mask; ``region`` the foreground region the element was generated in (for the
    inverted verdict; default the centre ellipse). The result's ``premultiplied_rgba()`` is
    the element, its ``qc["warnings"]`` the QC verdicts. ``ValueError`` when the frame has no
    key background (see the module docstring for the steps).
    """
    # 1. key background: the share of pixels of the key's chromaticity (GreenPost tests green and blue itself)
    if isinstance(colour.screen, tuple):
        chroma = rgb / np.maximum(rgb.sum(axis=-1, keepdims=True), 1e-6)
        key_chroma = np.asarray(colour.linear, np.float32) / max(sum(colour.linear), 1e-6)
        share = float(np.mean(np.linalg.norm(chroma - key_chroma, axis=-1) < KEY_CHROMA))
        if share < KEY_SHARE:
            raise ValueError(f"found no {key_text(colour.key)} screen in the image "
                             f"({share:.1%} of its pixels are of the key's colour)")

    # 2. key; with a subject mask, each pixel's larger alpha of the keys with and without it
    with threadpool_limits(limits=1):
        result = keyer.key(rgb, hint=hint)
        if hint is not None:
            plain = keyer.key(rgb)
            lower = plain.alpha > result.alpha
            result = KeyResult(alpha=np.where(lower, plain.alpha, result.alpha).astype(np.float32),
                               foreground=np.where(lower[..., None], plain.foreground, result.foreground),
                               qc=result.qc)

    # 3. QC: inverted (background opaque, subject transparent)
    alpha, region = result.alpha, region or Ellipse()
    height, width = alpha.shape
    ring = max(1, round(BORDER * min(height, width)))
    border = np.ones_like(alpha, dtype=bool)
    border[ring:-ring, ring:-ring] = False
    y = (np.arange(height) + 0.5)[:, None] / height
    x = (np.arange(width) + 0.5)[None, :] / width
    inside = ((x - region.cx) / region.rx) ** 2 + ((y - region.cy) / region.ry) ** 2 <= 1.0
    edge, centre = float(alpha[border].mean()), float(alpha[inside].mean()) if inside.any() else 0.0
    if edge > INVERTED_BORDER and edge > centre + INVERTED_MARGIN and "inverted_key" not in result.qc["verdicts"]:
        result.qc["verdicts"].append("inverted_key")
        result.qc["warnings"].append(
            f"keyed inverted: the frame's border is {edge:.0%} opaque and its foreground region {centre:.0%} "
            "(the background solid, the subject transparent): check the key colour")
    return result
