"""Despill that keeps luminance.

Light bounced off a chroma screen tints the subject towards the screen colour ("spill").
The classic limit is that the screen channel of a foreground colour should not exceed
the larger of the other two channels. We take away the excess, ``strength`` times of it,
and give the luminance it carried back as neutral grey, so a despilled face keeps its
brightness instead of going dark and magenta.
"""

from __future__ import annotations

import numpy as np

# Luminance weights (the Y row of RGB -> XYZ) of the usual working spaces.
REC709_LUMA = (0.2126, 0.7152, 0.0722)
ACESCG_LUMA = (0.2722287, 0.6740818, 0.0536895)


def despill(
    rgb: np.ndarray,
    screen_channel: int,
    strength: float = 1.0,
    luma: tuple[float, float, float] = REC709_LUMA,
) -> np.ndarray:
    """Remove screen spill from straight, scene-linear colour and keep its luminance.

    Args:
        rgb: ``(..., 3)`` float32 straight (not premultiplied) scene-linear colour.
        screen_channel: 1 for a green screen, 2 for blue (0 for a red screen).
        strength: 0 leaves the colour alone, 1 removes all the spill; values between
            scale the amount removed.
        luma: luminance weights of the working space (Rec.709 by default).

    Returns:
        A new ``(..., 3)`` float32 array. Pixels whose screen channel does not exceed
        ``max`` of the other two are unchanged; the others lose ``strength`` times the
        excess in the screen channel and gain ``luma[screen_channel]`` times that amount
        in every channel, so ``luma · rgb`` is unchanged.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"despill strength must be within 0..1, got {strength}")
    a, b = (c for c in range(3) if c != screen_channel)
    screen = rgb[..., screen_channel]
    excess = screen - np.maximum(rgb[..., a], rgb[..., b])
    np.maximum(excess, 0.0, out=excess)
    excess *= strength
    out = rgb + (luma[screen_channel] * excess)[..., None]
    out[..., screen_channel] -= excess
    return out.astype(np.float32, copy=False)
