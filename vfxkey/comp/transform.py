"""Placing a premultiplied element on a comp: translate, scale, rotate.

The element is resampled premultiplied (colour already times alpha): filtering straight
colour would bleed the colour of transparent pixels into the edges. Bilinear weights are
never negative, so premultiplied colour stays within alpha; a reduction is prefiltered
with an area filter first, so fine detail does not alias.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_comp(points: np.ndarray, size: tuple[int, int], canvas: tuple[int, int],
            position: tuple[float, float] | None = None, scale: float = 1.0, rotation: float = 0.0,
            pivot: tuple[float, float] | None = None) -> np.ndarray:
    """Where element points land on the comp under :func:`place`'s transform.

    Args:
        points: ``(n, 2)`` ``(x, y)`` in element pixels from its top-left corner
            (continuous coordinates).
        size: ``(h, w)`` of the element; canvas, position, scale, rotation, pivot: as
            :func:`place`.

    Returns:
        ``(n, 2)`` float64 ``(x, y)`` in comp pixels from the top-left corner.
    """
    height, width = canvas
    h, w = size
    position = (width / 2.0, height / 2.0) if position is None else position
    pivot = (w / 2.0, h / 2.0) if pivot is None else pivot
    linear = cv2.getRotationMatrix2D((0.0, 0.0), rotation, scale)[:, :2]
    return (np.asarray(points, np.float64) - pivot) @ linear.T + position


def place(rgba: np.ndarray, canvas: tuple[int, int], position: tuple[float, float] | None = None,
          scale: float = 1.0, rotation: float = 0.0, pivot: tuple[float, float] | None = None) -> np.ndarray:
    """The element transformed onto a transparent canvas.

    Args:
        rgba: ``(h, w, 4)`` float32 premultiplied, scene-linear.
        canvas: ``(H, W)`` of the comp.
        position: where the element's pivot goes, in comp pixels from the top-left
            corner (continuous coordinates: pixel ``i`` covers ``[i, i + 1)``); None: the
            canvas centre.
        scale: uniform scale about the pivot.
        rotation: degrees, counter-clockwise as seen on screen, about the pivot.
        pivot: the point of the element that ``position`` places and that scale and
            rotation turn about, in element pixels from its top-left corner (continuous);
            None: the element's centre.

    Returns:
        ``(H, W, 4)`` float32 premultiplied; outside the element alpha and colour are 0.
        With the element the canvas's size, centred, scale 1 and no rotation, ``rgba``
        itself (no resampling).
    """
    height, width = canvas
    if position is None:
        position = (width / 2.0, height / 2.0)
    h, w = rgba.shape[:2]
    if pivot is None:
        pivot = (w / 2.0, h / 2.0)
    if (h, w) == (height, width) and scale == 1.0 and rotation % 360.0 == 0.0 \
            and position == (width / 2.0, height / 2.0) and pivot == (w / 2.0, h / 2.0):
        return np.ascontiguousarray(rgba, dtype=np.float32)

    source = np.ascontiguousarray(rgba, dtype=np.float32)
    if scale < 1.0:
        # Area prefilter: reduce to the target size first, then the warp only moves and turns.
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        scale = 1.0
    # The pivot in the (maybe reduced) source; OpenCV addresses pixel centres at integer
    # coordinates: continuous x is x - 0.5.
    centre = (pivot[0] * source.shape[1] / w - 0.5, pivot[1] * source.shape[0] / h - 0.5)
    matrix = cv2.getRotationMatrix2D(centre, rotation, scale)
    matrix[:, 2] += (position[0] - 0.5 - centre[0], position[1] - 0.5 - centre[1])
    return cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0, 0.0, 0.0))
