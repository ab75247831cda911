"""Synthetic screens: each factor is off at strength 0, has its documented size, and is seeded."""

import numpy as np
import pytest

from vfxkey.synth.screens import ScreenLook, composite_over_screen, make_screen, smooth_field, spill_share

GREEN = np.array([0.0024, 0.3613, 0.0091], np.float32)  # sRGB (8, 162, 24) in linear Rec.709


def rng(seed=0):
    return np.random.default_rng(seed)


def test_all_strengths_zero_is_the_flat_colour():
    screen = make_screen(40, 60, GREEN, rng())
    assert screen.shape == (40, 60, 3) and screen.dtype == np.float32
    np.testing.assert_array_equal(screen, np.broadcast_to(GREEN, (40, 60, 3)))


def test_vignette_alone_darkens_the_corners_to_one_minus_strength():
    screen = make_screen(64, 64, GREEN, rng(), vignette=0.3)
    ratio = screen[..., 1] / GREEN[1]
    # The optical centre is within 10 % of the middle, so the farthest corner is past r = 1.
    assert ratio.min() == pytest.approx(0.7, abs=1e-5)
    assert ratio.max() <= 1.0 and ratio.max() > 0.99
    assert ratio[32, 32] > ratio[0, 0] and ratio[32, 32] > ratio[63, 63]


def test_light_and_texture_are_achromatic_and_hue_drift_is_not():
    shaded = make_screen(48, 48, GREEN, rng(), gradient=0.4, vignette=0.2, texture=0.05)
    np.testing.assert_allclose(shaded[..., 0] / GREEN[0], shaded[..., 1] / GREEN[1], rtol=1e-5)
    assert np.ptp(shaded[..., 1]) > 0.1 * GREEN[1]

    drifted = make_screen(48, 48, GREEN, rng(), hue_drift=0.08)
    ratio = (drifted[..., 0] / GREEN[0]) / (drifted[..., 1] / GREEN[1])
    assert np.ptp(ratio) > 0.05


def test_gradient_spreads_the_light_by_about_its_strength():
    for strength in (0.1, 0.4):
        screen = make_screen(128, 128, GREEN, rng(3), gradient=strength)
        spread = np.ptp(screen[..., 1] / GREEN[1])
        # ramp peak-to-peak 1..1.41 (by direction) plus a quarter-strength swell
        assert 0.8 * strength < spread < 2.5 * strength


def test_screen_is_a_pure_function_of_the_seed():
    look = dict(gradient=0.3, vignette=0.2, texture=0.05, hue_drift=0.05)
    a = make_screen(32, 48, GREEN, rng(7), **look)
    b = make_screen(32, 48, GREEN, rng(7), **look)
    c = make_screen(32, 48, GREEN, rng(8), **look)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def disc_alpha(size=64, radius=20):
    y, x = np.mgrid[0:size, 0:size]
    return ((x - size / 2) ** 2 + (y - size / 2) ** 2 <= radius**2).astype(np.float32)


def test_composite_without_spill_or_noise_is_the_closed_form_over():
    alpha = disc_alpha() * 0.75
    fg = np.full((64, 64, 3), [0.5, 0.2, 0.1], np.float32)
    screen = make_screen(64, 64, GREEN, rng(), gradient=0.3)
    out = composite_over_screen(fg, alpha, screen, rng())
    expected = alpha[..., None] * fg + (1 - alpha[..., None]) * screen
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


def test_spill_tints_only_the_subject_near_its_edges():
    alpha = disc_alpha(128, 50)
    fg = np.full((128, 128, 3), [0.5, 0.2, 0.1], np.float32)
    screen = np.broadcast_to(GREEN, (128, 128, 3)).astype(np.float32)
    out = composite_over_screen(fg, alpha, screen, rng(), spill=0.3)
    np.testing.assert_array_equal(out[alpha == 0], screen[alpha == 0])  # background untouched
    np.testing.assert_allclose(out[64, 64], fg[64, 64], atol=1e-4)  # centre: far from the screen
    # Just inside the edge the colour moved along (screen - fg) by spill * e, e the blurred
    # screen fraction: a bit under one half one pixel inside a large disc's edge.
    moved = (out[64, 64 + 49] - fg[0, 0]) / (0.3 * (GREEN - fg[0, 0]))
    np.testing.assert_allclose(moved, moved[0], rtol=1e-4)
    assert 0.25 < moved[0] < 0.5


def test_noise_has_the_documented_standard_deviation():
    fg = np.full((200, 200, 3), 0.4, np.float32)
    alpha = np.ones((200, 200), np.float32)
    out = composite_over_screen(fg, alpha, fg, rng(), noise=0.01)
    assert (out - 0.4).std() == pytest.approx(0.01, rel=0.03)
    assert abs((out - 0.4).mean()) < 5e-4


def test_shot_noise_grows_with_the_signal_and_adds_to_read_noise():
    dark = np.full((200, 200, 3), 0.01, np.float32)
    bright = np.full((200, 200, 3), 0.64, np.float32)
    alpha = np.ones((200, 200), np.float32)
    for level in (dark, bright):
        out = composite_over_screen(level, alpha, level, rng(), noise=0.002, shot_noise=4e-4)
        expected = np.sqrt(0.002**2 + 4e-4 * level[0, 0, 0])  # 0.0028 dark, 0.016 bright
        assert (out - level).std() == pytest.approx(expected, rel=0.03)


def test_smooth_field_has_unit_spread_features_of_the_given_size_and_is_seeded():
    field = smooth_field(90, 160, 4, rng(5))
    assert field.shape == (90, 160) and field.dtype == np.float32
    assert field.std() == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_array_equal(field, smooth_field(90, 160, 4, rng(5)))
    # 4 cells across 160 px: neighbours are nearly equal, points 40 px apart are not.
    assert np.abs(np.diff(field, axis=1)).mean() < 0.1
    assert np.abs(field[:, 40:] - field[:, :-40]).mean() > 0.5


def test_drawn_looks_are_seeded_and_within_range():
    a, b = ScreenLook.draw(rng(1)), ScreenLook.draw(rng(1))
    assert a == b and a != ScreenLook.draw(rng(2))
    assert 0 < a.gradient <= 0.5 and 0 <= a.spill <= 0.35 and 0 <= a.noise <= 0.01


def test_spill_share_is_the_spill_times_the_screen_seen_nearby():
    alpha = np.zeros((100, 200), np.float32)
    alpha[:, :100] = 1.0  # opaque left half, screen right
    share = spill_share(alpha, 0.4)
    assert share.dtype == np.float32 and share.shape == alpha.shape
    assert share[50, 20] == pytest.approx(0.0, abs=1e-6)  # deep inside: no screen in sight
    assert share[50, 180] == pytest.approx(0.4, abs=1e-6)  # bare screen all round
    assert share[50, 99:101].mean() == pytest.approx(0.2, abs=0.01)  # at the edge: half the surroundings
    np.testing.assert_array_equal(spill_share(alpha, 0.0), 0.0)
