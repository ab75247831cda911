"""Despill: removes the screen channel's excess and keeps luminance."""

import numpy as np
import pytest

from vfxkey.matte.despill import ACESCG_LUMA, REC709_LUMA, despill


def test_green_excess_is_removed_and_returned_as_grey():
    rgb = np.array([[0.30, 0.60, 0.20]], np.float32)  # green exceeds red by 0.30
    out = despill(rgb, screen_channel=1, strength=1.0)
    grey = 0.7152 * 0.30
    assert np.allclose(out, [[0.30 + grey, 0.30 + grey, 0.20 + grey]], atol=1e-6)
    assert out[0, 1] == pytest.approx(out[0, 0])  # green now at the limit max(r, b)


@pytest.mark.parametrize("luma", [REC709_LUMA, ACESCG_LUMA])
@pytest.mark.parametrize("channel", [1, 2])
def test_luminance_is_kept_for_every_strength(channel, luma):
    rng = np.random.default_rng(3)
    rgb = rng.uniform(0.0, 1.0, (200, 3)).astype(np.float32)
    for strength in (0.0, 0.3, 1.0):
        out = despill(rgb, channel, strength, luma)
        assert np.allclose(out @ np.array(luma), rgb @ np.array(luma), atol=1e-5)


def test_half_strength_removes_half_the_excess_on_a_blue_screen():
    rgb = np.array([[0.10, 0.20, 0.60]], np.float32)  # blue exceeds green by 0.40
    out = despill(rgb, screen_channel=2, strength=0.5)
    grey = 0.0722 * 0.20
    assert np.allclose(out, [[0.10 + grey, 0.20 + grey, 0.40 + grey]], atol=1e-6)


def test_colours_without_spill_are_unchanged():
    rgb = np.array([[0.5, 0.4, 0.1], [0.2, 0.2, 0.2], [0.1, 0.3, 0.3]], np.float32)
    assert np.array_equal(despill(rgb, screen_channel=1), rgb)
    assert np.array_equal(despill(np.zeros((4, 5, 3), np.float32), 2), np.zeros((4, 5, 3)))


def test_strength_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="0..1"):
        despill(np.zeros((1, 3), np.float32), 1, strength=1.5)
