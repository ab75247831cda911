"""Porter-Duff "over" for premultiplied elements, and a checkerboard to judge mattes on."""

from __future__ import annotations

import numpy as np


def over(fg_premult_rgba: np.ndarray, plate_rgb: np.ndarray) -> np.ndarray:
    """Composite a premultiplied element over a plate: ``fg.rgb + (1 - fg.a) * plate``.

    Args:
        fg_premult_rgba: ``(H, W, 4)`` float, colour premultiplied by alpha, scene-linear.
        plate_rgb: ``(H, W, 3)`` float, scene-linear in the same space (or anything that
            broadcasts to it, such as one RGB triple).

    Returns:
        ``(H, W, 3)`` float32 scene-linear colour.
    """
    fg_premult_rgba = np.asarray(fg_premult_rgba, dtype=np.float32)
    if fg_premult_rgba.ndim != 3 or fg_premult_rgba.shape[2] != 4:
        raise ValueError(f"over takes (H, W, 4) premultiplied RGBA, got shape {fg_premult_rgba.shape}")
    alpha = fg_premult_rgba[..., 3:4]
    return (fg_premult_rgba[..., :3] + (1.0 - alpha) * np.asarray(plate_rgb, dtype=np.float32)).astype(np.float32)


def checkerboard(
    height: int, width: int, square: int = 16, dark: float = 0.133, light: float = 0.319
) -> np.ndarray:
    """``(height, width, 3)`` float32 grey checkerboard, scene-linear.

    The top-left square is ``dark``. The default greys are scene-linear values that
    display as sRGB 0.4 and 0.6, the usual "transparency" pattern; ``square`` is in pixels.
    """
    ys = np.arange(height)[:, None] // square
    xs = np.arange(width)[None, :] // square
    grey = np.where((ys + xs) % 2 == 0, dark, light).astype(np.float32)
    return np.repeat(grey[..., None], 3, axis=2)
