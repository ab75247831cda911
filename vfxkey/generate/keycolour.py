"""The key colour of generated and edited elements, and keying such a frame on it.

Generation puts the element on the key colour; editing puts a keyed element back on it
before the model sees it. Both key the result with GreenPost (:mod:`vfxkey.matte.greenpost`)
on every frame by itself: a keyer without a shot ``Screen`` measures each frame's own, so a
frame's alpha does not depend on which frames are keyed with it (chunk-invariant), on one
thread, so K-Means is bitwise repeatable (threaded sums vary in the last bits).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from vfxkey.generate.noise import KEY_SRGB
from vfxkey.io.colour import DISPLAY_SPACE, convert
from vfxkey.matte.greenpost import Keyer, KeyResult, KeySettings


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
    with the keyer ``settings`` (the shot's; their ``screen`` is the key colour's).

    ``hint`` is an optional ``(H, W)`` 0..1 coarse subject mask. The result's
    ``premultiplied_rgba()`` is the element.
    """
    with threadpool_limits(limits=1):
        return Keyer(replace(settings, screen=colour.screen)).key(rgb, hint=hint)
