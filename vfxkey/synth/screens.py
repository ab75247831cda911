"""Synthetic chroma screens that look like the ones image models paint, and compositing over them.

This is the one place in vfxkey that synthesises screens and shoots subjects over them: the
matting head's training set (``vfxkey.synth.trainset``, the DiffuMatting "Green100K" recipe,
REFERENCE §1.2), the keying benchmark's test sets (``bench/keying/build_set.py``) and the
bundled sample shot (``samples/shot010/make_sample.py``) all build on it.

A generated "green screen" is never a flat colour: image models paint "#00FF00" as about
sRGB (8, 162, 24), with uneven light, a vignette, fabric texture, a slow hue drift across
the frame, green spill on the subject near its edges and sensor-like noise. Each of those is
one factor below, and each is off (exactly a flat screen, an exact ``over``) when its
strength is 0.

Every array here is scene-linear float32 in the working space; ``alpha`` is straight,
``(H, W)`` in 0..1. Randomness comes only from the ``numpy.random.Generator`` passed in,
so a screen is a pure function of its arguments and the generator's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Screen colours in 8-bit sRGB: what image models actually paint when asked for a green
# screen (REFERENCE §1.5), and the standard chroma-key green paint (#00B140).
GENERATED_GREEN_SRGB8 = (8, 162, 24)
CHROMA_GREEN_SRGB8 = (0, 177, 64)
SCREEN_GREENS_SRGB8 = (GENERATED_GREEN_SRGB8, CHROMA_GREEN_SRGB8)


@dataclass(frozen=True)
class ScreenLook:
    """How far a synthetic screen and composite depart from a flat colour and an exact ``over``.

    All strengths are unitless and 0 means "off":
    - ``gradient``: peak-to-peak relative change of the light across the frame (0.3 = ±15 %).
    - ``vignette``: relative darkening in the corners (0.25 = corners at 75 %).
    - ``texture``: standard deviation of the fabric's relative brightness (wrinkles + weave).
    - ``hue_drift``: standard deviation of each channel's slow relative change, which
      moves hue and saturation a little across the frame.
    - ``spill``: fraction of the screen colour mixed into the subject where it touches the
      screen (see :func:`composite_over_screen`).
    - ``noise``: standard deviation of additive Gaussian noise, in linear units (image
      models paint no photon noise; a camera's is ``composite_over_screen``'s ``shot_noise``).
    """

    gradient: float = 0.0
    vignette: float = 0.0
    texture: float = 0.0
    hue_drift: float = 0.0
    spill: float = 0.0
    noise: float = 0.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> ScreenLook:
        """A random look in the range seen on generated green screens (mild to strong)."""
        return cls(
            gradient=float(rng.uniform(0.05, 0.5)),
            vignette=float(rng.uniform(0.0, 0.35)),
            texture=float(rng.uniform(0.0, 0.06)),
            hue_drift=float(rng.uniform(0.0, 0.08)),
            spill=float(rng.uniform(0.0, 0.35)),
            noise=float(rng.uniform(0.0, 0.01)),
        )


def make_screen(
    height: int,
    width: int,
    colour_linear: np.ndarray | tuple[float, float, float],
    rng: np.random.Generator,
    *,
    gradient: float = 0.0,
    vignette: float = 0.0,
    texture: float = 0.0,
    hue_drift: float = 0.0,
) -> np.ndarray:
    """A ``(height, width, 3)`` scene-linear float32 screen of ``colour_linear`` (working space).

    The screen is the colour times four relative factors, each exactly 1 when its strength
    is 0 (see :class:`ScreenLook` for the units):
    1. uneven light: a linear ramp in a random direction plus a broad random swell;
    2. vignette: ``1 - vignette * r**2`` with ``r`` 1 in the corners of a slightly
       off-centre optical centre;
    3. fabric texture: random wrinkles (a smooth field a few dozen cells across) plus a
       fine woven-thread pattern at a random pitch and angle;
    4. hue drift: a separate slow field per channel.
    """
    colour = np.asarray(colour_linear, dtype=np.float32).reshape(1, 1, 3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (x + 0.5) / width - 0.5  # -0.5..0.5 across the frame
    v = (y + 0.5) / height - 0.5

    # 1. uneven light
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = np.cos(angle) * u + np.sin(angle) * v  # peak-to-peak about 1
    swell = smooth_field(height, width, 3, rng)
    light = 1.0 + gradient * (ramp + 0.25 * swell)

    # 2. vignette
    cx, cy = rng.uniform(-0.1, 0.1, size=2)
    r2 = ((u - cx) ** 2 + (v - cy) ** 2) / 0.5
    falloff = 1.0 - vignette * np.minimum(r2, 1.0)

    # 3. fabric texture
    wrinkles = smooth_field(height, width, 24, rng)
    pitch = rng.uniform(3.0, 7.0)
    theta = rng.uniform(-0.2, 0.2)
    xr, yr = np.cos(theta) * x - np.sin(theta) * y, np.sin(theta) * x + np.cos(theta) * y
    weave = np.sin(2.0 * np.pi * xr / pitch) * np.sin(2.0 * np.pi * yr / pitch) * 2.0  # unit std
    fabric = 1.0 + texture * (0.8 * wrinkles + 0.6 * weave)

    # 4. hue drift
    drift = 1.0 + hue_drift * np.stack([smooth_field(height, width, 2, rng) for _ in range(3)], -1)

    shading = (light * falloff * fabric)[..., None]
    return np.maximum(colour * shading * drift, 0.0).astype(np.float32)


def composite_over_screen(
    fg_linear: np.ndarray,
    alpha: np.ndarray,
    screen: np.ndarray,
    rng: np.random.Generator,
    *,
    spill: float = 0.0,
    noise: float = 0.0,
    shot_noise: float = 0.0,
) -> np.ndarray:
    """Composite a straight-alpha foreground over ``screen``; returns ``(H, W, 3)`` linear float32.

    ``fg_linear`` (H, W, 3) is straight (not premultiplied) scene-linear colour, ``alpha``
    (H, W) in 0..1, ``screen`` (H, W, 3) linear, all in the same working space.

    1. spill: where the subject is near the screen it takes on the screen's colour,
       ``fg' = fg + spill * e * (screen - fg)`` with ``e`` the fraction of screen within a
       few pixels (a Gaussian blur of ``1 - alpha``, about 1 % of the image diagonal);
    2. over: ``alpha * fg' + (1 - alpha) * screen``;
    3. noise: additive Gaussian with standard deviation ``sqrt(noise**2 + shot_noise * v)``
       at a pixel of linear value ``v``: read noise ``noise`` (linear units) plus a camera's
       photon noise, ``shot_noise`` being the variance added per linear unit of signal;
       then clipped at 0.

    With ``spill``, ``noise`` and ``shot_noise`` all 0 this is exactly the ``over`` of straight
    colour.
    """
    alpha = alpha[..., None].astype(np.float32)
    fg = fg_linear.astype(np.float32)

    # 1. spill near the edges
    if spill > 0.0:
        fg = fg + spill_share(alpha[..., 0], spill)[..., None] * (screen - fg)

    # 2. over
    out = alpha * fg + (1.0 - alpha) * screen

    # 3. sensor noise
    if noise > 0.0 or shot_noise > 0.0:
        sigma = np.sqrt(noise**2 + shot_noise * np.maximum(out, 0.0))
        out = np.maximum(out + sigma * rng.standard_normal(out.shape, dtype=np.float32), 0.0)
    return out.astype(np.float32)


def spill_share(alpha: np.ndarray, spill: float) -> np.ndarray:
    """(H, W) float32: the share of screen light in the subject's colour that
    :func:`composite_over_screen` mixes in, ``spill * e`` with ``e`` the fraction of screen
    within a few pixels (a Gaussian blur of ``1 - alpha``, sigma about 1 % of the image
    diagonal). ``alpha`` is straight, (H, W) in 0..1; ``spill`` unitless, 0 gives zeros."""
    sigma = 0.01 * float(np.hypot(*alpha.shape[:2])) + 1.0
    return (spill * cv2.GaussianBlur(1.0 - alpha.astype(np.float32), (0, 0), sigma)).astype(np.float32)


def smooth_field(height: int, width: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Random smooth ``(height, width)`` float32 field with unit standard deviation (unitless).

    White noise on a grid about ``cells`` across (on the longer side), upsampled bicubically,
    so its features are about ``1 / cells`` of the frame wide. The screens' light and fabric
    use it, and so do the procedural subjects shot over them (shading, sheer density).
    """
    scale = cells / max(height, width)
    grid_h, grid_w = max(2, round(height * scale) + 1), max(2, round(width * scale) + 1)
    grid = rng.standard_normal((grid_h, grid_w)).astype(np.float32)
    field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return field / max(float(field.std()), 1e-6)
