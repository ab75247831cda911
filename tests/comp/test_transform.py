"""Placement with a pivot: `position` places the pivot, scale and rotation turn about it."""

import numpy as np
import pytest

from vfxkey.comp.transform import place, to_comp


def centroid(alpha):
    ys, xs = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]] + 0.5
    return float((xs * alpha).sum() / alpha.sum()), float((ys * alpha).sum() / alpha.sum())


def block_element():
    element = np.zeros((60, 80, 4), np.float32)
    element[50:54, 10:14] = 1.0  # a 4x4 block, centre (12, 52) from the top left
    return element


@pytest.mark.parametrize("scale", [0.5, 0.85, 1.0, 1.5])
@pytest.mark.parametrize("rotation", [0.0, 2.0, 30.0])
def test_the_pivot_lands_on_position_and_points_turn_about_it(scale, rotation):
    element, canvas, pivot, position = block_element(), (140, 160), (40.0, 60.0), (70.0, 90.0)
    alpha = place(element, canvas, position, scale, rotation, pivot)[..., 3]
    expected = to_comp(np.array([[12.0, 52.0]]), (60, 80), canvas, position, scale, rotation, pivot)[0]
    # By hand: the block is (-28, -8) from the pivot; scaled, turned counter-clockwise as seen (y down).
    theta = np.radians(rotation)
    dx, dy = -28.0 * scale, -8.0 * scale
    by_hand = (70.0 + dx * np.cos(theta) + dy * np.sin(theta), 90.0 - dx * np.sin(theta) + dy * np.cos(theta))
    assert tuple(expected) == pytest.approx(by_hand, abs=1e-9)
    assert centroid(alpha) == pytest.approx(tuple(expected), abs=0.3)


def test_the_default_pivot_is_the_centre_bit_for_bit():
    element = block_element()
    for scale, rotation in ((0.85, 2.0), (1.25, -7.0)):
        default = place(element, (100, 120), (60.0, 50.0), scale, rotation)
        centre = place(element, (100, 120), (60.0, 50.0), scale, rotation, (40.0, 30.0))
        assert np.array_equal(default, centre)


def test_a_pivot_on_the_bottom_edge_keeps_that_edge_at_position_whatever_the_scale():
    element = np.zeros((60, 80, 4), np.float32)
    element[40:, 30:50] = 1.0  # a "torso" cut by the frame's bottom edge
    for scale in (0.5, 0.85, 1.0):
        alpha = place(element, (100, 120), (60.0, 90.0), scale, 0.0, (40.0, 60.0))[..., 3]
        rows = np.flatnonzero(alpha[:, 60] > 0.5)
        assert rows.max() + 1 == 90  # the cut sits on row 90 (continuous y = 90) at every scale
