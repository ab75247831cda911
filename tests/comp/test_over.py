"""Premultiplied over and the checkerboard, against hand-computed values."""

import numpy as np
import pytest

from vfxkey.comp.over import checkerboard, over


def test_over_hand_computed():
    # Premultiplied: a 40%-opaque red-ish pixel (straight 0.5, 0.25, 0) is (0.2, 0.1, 0, 0.4).
    fg = np.array([[[0.2, 0.1, 0.0, 0.4], [0.0, 0.0, 0.0, 0.0], [0.9, 0.8, 0.7, 1.0]]], np.float32)
    plate = np.array([[[1.0, 0.5, 0.25], [0.3, 0.6, 0.9], [0.1, 0.1, 0.1]]], np.float32)
    out = over(fg, plate)
    assert out.dtype == np.float32 and out.shape == (1, 3, 3)
    assert np.allclose(out[0, 0], [0.2 + 0.6 * 1.0, 0.1 + 0.6 * 0.5, 0.0 + 0.6 * 0.25])
    assert np.allclose(out[0, 1], plate[0, 1])  # transparent: the plate
    assert np.allclose(out[0, 2], [0.9, 0.8, 0.7])  # opaque: the element


def test_over_a_constant_colour_broadcasts():
    fg = np.zeros((2, 2, 4), np.float32)
    fg[..., 3] = 0.5
    assert np.allclose(over(fg, np.array([0.2, 0.4, 0.8])), [0.1, 0.2, 0.4])


def test_over_refuses_rgb_without_alpha():
    with pytest.raises(ValueError, match="RGBA"):
        over(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.float32))


def test_checkerboard_squares():
    board = checkerboard(4, 6, square=2, dark=0.1, light=0.7)
    assert board.shape == (4, 6, 3) and board.dtype == np.float32
    expected = np.array([[0.1, 0.1, 0.7, 0.7, 0.1, 0.1],
                         [0.1, 0.1, 0.7, 0.7, 0.1, 0.1],
                         [0.7, 0.7, 0.1, 0.1, 0.7, 0.7],
                         [0.7, 0.7, 0.1, 0.1, 0.7, 0.7]], np.float32)
    assert np.allclose(board[..., 0], expected) and np.array_equal(board[..., 0], board[..., 2])
