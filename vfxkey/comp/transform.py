"""Placing a premultiplied element on a comp: translate, scale, rotate.

The element is resampled premultiplied (colour already times alpha): filtering straight
colour would bleed the colour of transparent pixels into the edges. Bilinear weights are
never negative, so premultiplied colour stays within alpha; a reduction is prefiltered
with an area filter first, so fine detail does not alias.
"""

from __future__ import annotations

import cv2
import numpy as np


def place(rgba: np.ndarray, canvas: tuple[int, int], position: tuple[float, float] | None = None,
          scale: float = 1.0, rotation: float = 0.0) -> np.ndarray:
    """The element transformed onto a transparent canvas.

    Args:
        rgba: ``(h, w, 4)`` float32 premultiplied, scene-linear.
        canvas: ``(H, W)`` of the comp.
        position: where the element's centre goes, in comp pixels from the top-left
            corner (continuous coordinates: pixel ``i`` covers ``[i, i + 1)``); None: the
            canvas centre.
        scale: uniform scale about the element's centre.
        rotation: degrees, counter-clockwise as seen on screen.

    Returns:
        ``(H, W, 4)`` float32 premultiplied; outside the element alpha and colour are 0.
        With the element the canvas's size, centred, scale 1 and no rotation, ``rgba``
        itself (no resampling).
    """
    height, width = canvas
    if position is None:
        position = (width / 2.0, height / 2.0)
    h, w = rgba.shape[:2]
    if (h, w) == (height, width) and scale == 1.0 and rotation % 360.0 == 0.0 \
            and position == (width / 2.0, height / 2.0):
        return np.ascontiguousarray(rgba, dtype=np.float32)

    source = np.ascontiguousarray(rgba, dtype=np.float32)
    if scale < 1.0:
        # Area prefilter: reduce to the target size first, then the warp only moves and turns.
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        scale = 1.0
    h, w = source.shape[:2]
    # OpenCV addresses pixel centres at integer coordinates: continuous x is x - 0.5.
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, rotation, scale)
    matrix[:, 2] += (position[0] - 0.5 - centre[0], position[1] - 0.5 - centre[1])
    return cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0, 0.0, 0.0))
